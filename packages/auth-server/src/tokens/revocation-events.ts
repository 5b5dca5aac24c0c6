import { appendRevocation, pruneRevocations, REVOCATION_FEED_RETENTION_MS } from '@gatehouse/core';
import { SqliteAdapter, type Kysely } from 'kysely';
import { REVOCATION_CHANNEL, type AuthServerDeps } from '../context.js';
import type { AuthDatabase } from '../db/schema.js';

/**
 * What is published on the revocation channel when something is revoked, so gateways and guard
 * verifiers evict cached results at once (guard `RevocationTarget` shapes, plus `kid` for a
 * compromised key and `grantId` for a whole token family).
 */
export type RevocationEvent =
  | { readonly jti: string; readonly exp: number }
  | { readonly sid: string }
  | { readonly sub: string; readonly issuedBefore: number }
  | { readonly kid: string };

/** Records an event to announce once the revocation it belongs to has committed. */
export type Announce = (event: RevocationEvent) => void;

type Deps = Pick<AuthServerDeps, 'db' | 'state' | 'logger' | 'now'>;

/**
 * SQLite: one revocation transaction at a time in this process. better-sqlite3 waits for another
 * connection's write lock synchronously (busy_timeout), which blocks the event loop the lock's
 * holder needs to commit: two handles on one file in one process (several instances in one test
 * process) would stall for the whole timeout and fail. SQLite has one writer at a time anyway, and
 * a lock held by another process is waited for as before.
 */
let sqliteTurn: Promise<unknown> = Promise.resolve();

/** Runs of a revocation that the database rolled back for a deadlock, at most. */
const MAX_ATTEMPTS = 3;

/** PostgreSQL deadlock_detected and serialization_failure (Appendix A, class 40). */
function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

/** Feed rows older than the retention are deleted at most this often (per database). */
const PRUNE_EVERY_MS = 3600 * 1000;
const lastPruned = new WeakMap<object, number>();

async function pruneNowAndThen(deps: Deps, now: number): Promise<void> {
  const last = lastPruned.get(deps.db);
  if (last !== undefined && now - last < PRUNE_EVERY_MS) return;
  lastPruned.set(deps.db, now);
  try {
    await pruneRevocations(deps.db, { now, retentionMs: REVOCATION_FEED_RETENTION_MS });
  } catch (err) {
    deps.logger.warn({ err }, 'revocation feed could not be pruned');
  }
}

/**
 * Runs a revocation as one transaction together with the revocation-feed rows of the events it
 * announces, then publishes those events on the shared state.
 *
 * The feed (core's, in the same database) is what a gateway polls when it missed pub/sub, so it
 * must hold every revocation that is in force: written in the revocation's own transaction, a
 * crash can lose neither without the other (a transactional outbox). If the append fails, the
 * revocation rolls back and the caller's error reaches the client: nothing is confirmed that
 * gateways could not learn. Pub/sub, after the commit, is only the fast path (gateways evict
 * within milliseconds); a failed publish is logged and the feed still carries the event.
 *
 * `work` must run every statement on the transaction it is given (on SQLite, one connection: a
 * statement on `deps.db` would wait for the transaction forever).
 */
export async function revokeAndAnnounce<T>(
  deps: Deps,
  work: (db: Kysely<AuthDatabase>, announce: Announce) => T | Promise<T>,
): Promise<T> {
  const now = deps.now();
  let events: RevocationEvent[] = [];
  const attempt = (): Promise<T> =>
    deps.db.transaction().execute(async (trx) => {
      events = [];
      const value = await work(trx, (event) => {
        events.push(event);
      });
      // The feed last: on PostgreSQL an append holds the feed table's lock until the commit (so
      // feed ids become visible in order), and a transaction that takes it after all its row
      // locks never waits for a row while holding it, so two revocations cannot deadlock over it.
      for (const event of events) await appendRevocation<AuthDatabase>(trx, event, { now });
      return value;
    });
  const run = async (): Promise<T> => {
    for (let tries = 1; ; tries++) {
      try {
        return await attempt();
      } catch (err) {
        // Two revocations updating overlapping token rows in different orders can still deadlock
        // on PostgreSQL, which aborts one of them (40P01): that one is rolled back whole, and
        // running it again is safe (every update skips what is already revoked).
        if (tries >= MAX_ATTEMPTS || !isRetryable(err)) throw err;
        deps.logger.warn({ err, tries }, 'revocation rolled back by the database; running it again');
      }
    }
  };
  let result: T;
  if (deps.db.getExecutor().adapter instanceof SqliteAdapter) {
    const turn = sqliteTurn.then(run, run);
    sqliteTurn = turn.catch(() => undefined);
    result = await turn;
  } else {
    result = await run();
  }
  if (events.length === 0) return result;
  await pruneNowAndThen(deps, now);
  await Promise.all(
    events.map(async (event) => {
      try {
        await deps.state.publish(REVOCATION_CHANNEL, JSON.stringify(event));
      } catch (err) {
        // The revocation and its feed row are committed: introspection and the jti lists refuse
        // the token, and gateways find the event in the feed. Only the push failed.
        deps.logger.error({ err }, 'revocation event could not be published');
      }
    }),
  );
  return result;
}

import { appendRevocation, pruneRevocations, REVOCATION_FEED_RETENTION_MS } from '@gatehouse/core';
import { REVOCATION_CHANNEL, type AuthServerDeps } from '../context.js';

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

type Deps = Pick<AuthServerDeps, 'db' | 'state' | 'logger' | 'now'>;

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
 * Announces a revocation that is already durable in the database: first appended to the
 * revocation feed (core's, in the same database), then published on the shared state. Pub/sub is
 * the fast path (gateways evict within milliseconds) but keeps nothing for a gateway that is
 * disconnected; the feed is what such a gateway polls, so a Redis outage, or a gateway restart
 * during one, never loses a revocation. Neither step fails the revocation: it is in force
 * already (introspection and the jti lists refuse the token); a failure is logged loudly.
 */
export async function publishRevocation(deps: Deps, event: RevocationEvent): Promise<void> {
  const now = deps.now();
  try {
    await appendRevocation(deps.db, event, { now });
  } catch (err) {
    deps.logger.error({ err }, 'revocation event could not be appended to the revocation feed');
  }
  await pruneNowAndThen(deps, now);
  try {
    await deps.state.publish(REVOCATION_CHANNEL, JSON.stringify(event));
  } catch (err) {
    // The revocation itself is already durable in the database; introspection and the jti list
    // still refuse the token, and gateways find the event in the feed. Only the push failed.
    deps.logger.error({ err }, 'revocation event could not be published');
  }
}

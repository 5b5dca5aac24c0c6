import { PostgresAdapter, sql, type Kysely } from 'kysely';
import { toNumber, type RevocationFeedDatabase, type RevocationFeedEvent } from './revocation-feed-types.js';

export interface AppendRevocationOptions {
  /** Epoch ms stored as `created_at` (default `Date.now()`); pruning compares against it. */
  readonly now?: number;
}

async function insert(
  db: Kysely<RevocationFeedDatabase>,
  event: string,
  createdAt: number,
  postgres: boolean,
): Promise<number> {
  if (postgres) {
    // A PostgreSQL sequence hands out ids at insert time, but transactions commit in any order: a
    // reader could see id 11 committed while 10 is not yet, move its cursor past 10 and never see
    // it. Appenders take turns (the lock lasts until their transaction commits), so ids become
    // visible in order. Readers (plain selects) are not blocked by this lock mode.
    await sql`lock table revocation_feed in share row exclusive mode`.execute(db);
  }
  const row = await db
    .insertInto('revocation_feed')
    .values({ event, created_at: createdAt })
    .returning('id')
    .executeTakeFirstOrThrow();
  return toNumber(row.id);
}

/**
 * Appends a revocation to the durable feed that gateways poll when pub/sub is unavailable;
 * resolves its id. Pass the caller's transaction to make the event part of the same unit of work
 * as the revocation itself. The feed never loses an event once this resolves (it is as durable as
 * the database). On SQLite one insert is its own transaction, and writers are serialised anyway.
 */
export async function appendRevocation<DB>(
  db: Kysely<DB>,
  event: RevocationFeedEvent,
  options: AppendRevocationOptions = {},
): Promise<number> {
  const feed = db as unknown as Kysely<RevocationFeedDatabase>;
  const message = JSON.stringify(event);
  const createdAt = options.now ?? Date.now();
  const postgres = feed.getExecutor().adapter instanceof PostgresAdapter;
  if (!postgres || feed.isTransaction) return insert(feed, message, createdAt, postgres);
  return feed.transaction().execute((trx) => insert(trx, message, createdAt, true));
}

import type { Kysely } from 'kysely';
import { REVOCATION_FEED_RETENTION_MS, type RevocationFeedDatabase } from './revocation-feed-types.js';

export interface PruneRevocationsOptions {
  /** Epoch ms (default `Date.now()`), on the clock the events were appended with. */
  readonly now?: number;
  /**
   * Rows older than this are deleted (default 24 h). Keep it above the longest access-token
   * lifetime: an event matters only while a token it covers can still be presented.
   */
  readonly retentionMs?: number;
}

/** Deletes the events older than the retention; resolves how many were deleted. */
export async function pruneRevocations<DB>(
  db: Kysely<DB>,
  options: PruneRevocationsOptions = {},
): Promise<number> {
  const cutoff = (options.now ?? Date.now()) - (options.retentionMs ?? REVOCATION_FEED_RETENTION_MS);
  const result = await (db as unknown as Kysely<RevocationFeedDatabase>)
    .deleteFrom('revocation_feed')
    .where('created_at', '<', cutoff)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

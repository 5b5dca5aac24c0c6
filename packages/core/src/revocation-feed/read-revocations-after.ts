import type { Kysely } from 'kysely';
import { toNumber, type RevocationFeedDatabase, type RevocationFeedEntry } from './revocation-feed-types.js';

/**
 * Up to `limit` events with an id above `cursor`, oldest first. A reader keeps the id of the last
 * one it applied as its next cursor; fewer than `limit` rows means it has caught up.
 */
export async function readRevocationsAfter<DB>(
  db: Kysely<DB>,
  cursor: number,
  limit: number,
): Promise<RevocationFeedEntry[]> {
  const rows = await (db as unknown as Kysely<RevocationFeedDatabase>)
    .selectFrom('revocation_feed')
    .select(['id', 'event', 'created_at'])
    .where('id', '>', cursor)
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    id: toNumber(row.id),
    message: row.event,
    createdAt: toNumber(row.created_at),
  }));
}

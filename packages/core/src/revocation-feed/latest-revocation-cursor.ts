import type { Kysely } from 'kysely';
import { toNumber, type RevocationFeedDatabase } from './revocation-feed-types.js';

/**
 * The id of the newest event in the feed, 0 when it is empty: where a reader that starts now
 * begins (what was revoked before is already refused by introspection and the auth server).
 */
export async function latestRevocationCursor<DB>(db: Kysely<DB>): Promise<number> {
  const row = await (db as unknown as Kysely<RevocationFeedDatabase>)
    .selectFrom('revocation_feed')
    .select((eb) => eb.fn.max('id').as('latest'))
    .executeTakeFirst();
  return toNumber(row?.latest ?? 0);
}

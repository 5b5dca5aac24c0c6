import { PostgresAdapter, sql, type Kysely, type Migration } from 'kysely';
import { migrateToLatest } from '../store/migrate.js';

/** The component name of the feed's own migration history (`revocation_feed_migrations`). */
export const REVOCATION_FEED_COMPONENT = 'revocation_feed';

// Migrations are append-only: a released one is never edited.
export const revocationFeedMigrations: Readonly<Record<string, Migration>> = {
  '0001-revocation-feed': {
    async up(db: Kysely<unknown>): Promise<void> {
      // Ids are never reused, even after the newest rows were pruned, so a reader's cursor stays
      // meaningful: SQLite needs AUTOINCREMENT for that, a PostgreSQL identity never goes back.
      const id =
        db.getExecutor().adapter instanceof PostgresAdapter
          ? sql`id bigint generated always as identity primary key`
          : sql`id integer primary key autoincrement`;
      await sql`create table revocation_feed (${id}, event text not null, created_at bigint not null)`.execute(
        db,
      );
      await db.schema
        .createIndex('revocation_feed_created_at')
        .on('revocation_feed')
        .column('created_at')
        .execute();
    },
  },
};

/**
 * Creates or updates the revocation feed's table. Both the auth server (which appends) and the
 * gateway (which reads) run it, so either may start first on a fresh database; concurrent runs
 * migrate once (see `migrateToLatest`).
 */
export function migrateRevocationFeed(db: Kysely<unknown>): Promise<readonly string[]> {
  return migrateToLatest(db, REVOCATION_FEED_COMPONENT, revocationFeedMigrations);
}

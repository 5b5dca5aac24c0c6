import { migrateToLatest } from '@gatehouse/core';
import type { Kysely, Migration } from 'kysely';

/** The component name of the gateway's migration history (`gateway_migrations`). */
export const GATEWAY_COMPONENT = 'gateway';

// Migrations are append-only: a released one is never edited. Expand/contract for changes.
export const gatewayMigrations: Readonly<Record<string, Migration>> = {
  '0001-bans': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('gateway_bans')
        .addColumn('id', 'text', (c) => c.primaryKey())
        // One row per subject: banning again replaces the ban (an upsert), so the in-memory view
        // and every instance agree on a single expiry per address or block.
        .addColumn('subject', 'text', (c) => c.notNull().unique())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('created_by', 'text')
        .addColumn('offence', 'integer', (c) => c.notNull().defaultTo(1))
        .execute();
      // Every instance reads the unexpired bans once a second.
      await db.schema.createIndex('gateway_bans_expires').on('gateway_bans').column('expires_at').execute();
    },
  },
  '0002-reroutes': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('gateway_reroutes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('route', 'text', (c) => c.notNull())
        // The alert that asked: its fingerprint, or `alertname:<name>` when it came without one. One
        // row per route and alert, so that one alert resolving leaves another's reroute in force.
        .addColumn('alert_key', 'text', (c) => c.notNull())
        .addColumn('alertname', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text')
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('renewed_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('gateway_reroutes_route_alert', ['route', 'alert_key'])
        .execute();
      await db.schema
        .createIndex('gateway_reroutes_expires')
        .on('gateway_reroutes')
        .column('expires_at')
        .execute();
    },
  },
};

/** Runs the gateway's migrations (safe with several instances, or the CLI, starting together). */
export function migrateGateway(db: Kysely<unknown>): Promise<readonly string[]> {
  return migrateToLatest(db, GATEWAY_COMPONENT, gatewayMigrations);
}

import { migrateToLatest } from '@gatehouse/core';
import type { Kysely, Migration } from 'kysely';

/** The component name of the audit store's migration history (`audit_migrations`). */
export const AUDIT_COMPONENT = 'audit';

// Migrations are append-only: a released one is never edited. Expand/contract for changes.
export const auditMigrations: Readonly<Record<string, Migration>> = {
  '0001-audit-log': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('audit_log')
        .addColumn('seq', 'bigint', (c) => c.primaryKey())
        // At-least-once delivery from spools: the same event id is stored once.
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('time', 'bigint', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('component', 'text', (c) => c.notNull())
        .addColumn('actor_sub', 'text')
        .addColumn('actor_client_id', 'text')
        .addColumn('source_ip', 'text')
        .addColumn('target_type', 'text')
        .addColumn('target_id', 'text')
        .addColumn('decision', 'text')
        .addColumn('reason', 'text')
        .addColumn('request_id', 'text')
        .addColumn('details', 'text')
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      // Export and reports select by time.
      await db.schema.createIndex('audit_log_time').on('audit_log').column('time').execute();
      await db.schema
        .createTable('audit_checkpoints')
        .addColumn('seq', 'bigint', (c) => c.primaryKey())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('kid', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .execute();
    },
  },
};

/** Creates or upgrades the audit tables (safe with several instances, or the CLI, starting together). */
export function migrateAudit<DB>(db: Kysely<DB>): Promise<readonly string[]> {
  return migrateToLatest(db as unknown as Kysely<unknown>, AUDIT_COMPONENT, auditMigrations);
}

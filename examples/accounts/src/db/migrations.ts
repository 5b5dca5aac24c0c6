import type { Kysely, Migration } from 'kysely';

export const migrations: Readonly<Record<string, Migration>> = {
  '0001_accounts': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('accounts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('owner_id', 'text', (c) => c.notNull())
        .addColumn('nickname', 'text', (c) => c.notNull())
        .addColumn('balance', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      // Lists are always filtered by owner (the policy's query filter).
      await db.schema.createIndex('accounts_owner_id').on('accounts').columns(['owner_id', 'id']).execute();
    },
  },
  '0002_audit_events': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('audit_events')
        .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_events_time').on('audit_events').column('time').execute();
    },
  },
};

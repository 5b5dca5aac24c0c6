import type { Kysely, Migration } from 'kysely';

export const migrations: Readonly<Record<string, Migration>> = {
  '0001_orders': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('orders')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('owner_id', 'text', (c) => c.notNull())
        .addColumn('account_id', 'text', (c) => c.notNull())
        .addColumn('amount', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      // Lists are always filtered by owner (the policy's query filter).
      await db.schema.createIndex('orders_owner_id').on('orders').columns(['owner_id', 'id']).execute();
    },
  },
};

import { type Kysely, type Migration } from 'kysely';

/**
 * The BFF's own tables (history table `bff_migrations`). Times are epoch ms (bigint); tokens and
 * PKCE verifiers are sealed (AES-256-GCM) before they are written.
 */
export const BFF_MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_sessions': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('bff_sessions')
        .addColumn('id_hash', 'text', (c) => c.primaryKey())
        .addColumn('ref', 'text', (c) => c.notNull().unique())
        .addColumn('sub', 'text', (c) => c.notNull())
        .addColumn('name', 'text')
        .addColumn('op_sid', 'text')
        .addColumn('id_token', 'text', (c) => c.notNull())
        .addColumn('access_token', 'text', (c) => c.notNull())
        .addColumn('refresh_token', 'text')
        .addColumn('access_expires_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('bff_sessions_sub').on('bff_sessions').column('sub').execute();
      await db.schema.createIndex('bff_sessions_op_sid').on('bff_sessions').column('op_sid').execute();
      await db.schema
        .createIndex('bff_sessions_expires_at')
        .on('bff_sessions')
        .column('expires_at')
        .execute();
      await db.schema
        .createTable('bff_login_requests')
        .addColumn('id_hash', 'text', (c) => c.primaryKey())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('nonce', 'text', (c) => c.notNull())
        .addColumn('code_verifier', 'text', (c) => c.notNull())
        .addColumn('return_to', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
};

export interface BffDatabase {
  bff_sessions: {
    id_hash: string;
    ref: string;
    sub: string;
    name: string | null;
    op_sid: string | null;
    id_token: string;
    access_token: string;
    refresh_token: string | null;
    access_expires_at: number;
    created_at: number;
    last_seen_at: number;
    expires_at: number;
  };
  bff_login_requests: {
    id_hash: string;
    state: string;
    nonce: string;
    code_verifier: string;
    return_to: string;
    expires_at: number;
  };
}

import { sql, type Kysely, type Migration } from 'kysely';

// Migrations are append-only: a released one is never edited. Expand/contract for changes.
export const authServerMigrations: Readonly<Record<string, Migration>> = {
  '0001-initial': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('clients')
        .addColumn('client_id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('secret_hash', 'text')
        .addColumn('auth_method', 'text', (c) => c.notNull())
        .addColumn('grant_types', 'text', (c) => c.notNull())
        .addColumn('redirect_uris', 'text', (c) => c.notNull())
        .addColumn('post_logout_redirect_uris', 'text', (c) => c.notNull())
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('resources', 'text', (c) => c.notNull())
        .addColumn('token_format', 'text', (c) => c.notNull())
        .addColumn('first_party', 'integer', (c) => c.notNull())
        .addColumn('require_par', 'integer', (c) => c.notNull())
        .addColumn('jwks', 'text')
        .addColumn('backchannel_logout_uri', 'text')
        .addColumn('can_introspect', 'integer', (c) => c.notNull())
        .addColumn('access_token_ttl_sec', 'integer')
        .addColumn('refresh_idle_ttl_sec', 'integer')
        .addColumn('refresh_absolute_ttl_sec', 'integer')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('users')
        .addColumn('sub', 'text', (c) => c.primaryKey())
        .addColumn('username', 'text', (c) => c.notNull().unique())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('roles', 'text', (c) => c.notNull())
        .addColumn('name', 'text')
        .addColumn('email', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('signing_keys')
        .addColumn('kid', 'text', (c) => c.primaryKey())
        .addColumn('alg', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('generation', 'integer', (c) => c.notNull())
        .addColumn('public_jwk', 'text', (c) => c.notNull())
        .addColumn('private_key', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('activates_at', 'bigint', (c) => c.notNull())
        .addColumn('activated_at', 'bigint')
        .addColumn('rotates_at', 'bigint')
        .addColumn('retiring_at', 'bigint')
        .addColumn('unpublish_at', 'bigint')
        .addColumn('retired_at', 'bigint')
        .addUniqueConstraint('signing_keys_alg_generation', ['alg', 'generation'])
        .execute();

      await db.schema
        .createTable('authorization_codes')
        .addColumn('code_hash', 'text', (c) => c.primaryKey())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('sub', 'text', (c) => c.notNull())
        .addColumn('redirect_uri', 'text', (c) => c.notNull())
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('resource', 'text')
        .addColumn('code_challenge', 'text', (c) => c.notNull())
        .addColumn('nonce', 'text')
        .addColumn('sid', 'text', (c) => c.notNull())
        .addColumn('auth_time', 'bigint', (c) => c.notNull())
        .addColumn('dpop_jkt', 'text')
        .addColumn('grant_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('consumed_at', 'bigint')
        .execute();

      await db.schema
        .createTable('par_requests')
        .addColumn('request_uri_hash', 'text', (c) => c.primaryKey())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('consumed_at', 'bigint')
        .execute();

      await db.schema
        .createTable('grants')
        .addColumn('grant_id', 'text', (c) => c.primaryKey())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('sub', 'text', (c) => c.notNull())
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('resource', 'text')
        .addColumn('sid', 'text')
        .addColumn('auth_time', 'bigint')
        .addColumn('dpop_jkt', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint')
        .addColumn('revoked_reason', 'text')
        .execute();

      await db.schema
        .createTable('refresh_tokens')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('grant_id', 'text', (c) => c.notNull())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('idle_expires_at', 'bigint', (c) => c.notNull())
        .addColumn('rotated_at', 'bigint')
        .addColumn('replaced_by', 'text')
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema.createIndex('refresh_tokens_grant').on('refresh_tokens').column('grant_id').execute();

      await db.schema
        .createTable('access_tokens')
        .addColumn('jti', 'text', (c) => c.primaryKey())
        .addColumn('format', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'text', (c) => c.unique())
        .addColumn('grant_id', 'text')
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('sub', 'text', (c) => c.notNull())
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('audience', 'text')
        .addColumn('dpop_jkt', 'text')
        .addColumn('kid', 'text')
        .addColumn('parent_jti', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema.createIndex('access_tokens_grant').on('access_tokens').column('grant_id').execute();
      await db.schema.createIndex('access_tokens_parent').on('access_tokens').column('parent_jti').execute();
      await db.schema.createIndex('access_tokens_expires').on('access_tokens').column('expires_at').execute();

      await db.schema
        .createTable('sessions')
        .addColumn('sid', 'text', (c) => c.primaryKey())
        .addColumn('sub', 'text', (c) => c.notNull())
        .addColumn('auth_time', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('ended_at', 'bigint')
        .execute();

      await db.schema
        .createTable('session_clients')
        .addColumn('sid', 'text', (c) => c.notNull())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('session_clients_pk', ['sid', 'client_id'])
        .execute();

      await db.schema
        .createTable('consents')
        .addColumn('sub', 'text', (c) => c.notNull())
        .addColumn('client_id', 'text', (c) => c.notNull())
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('granted_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('consents_pk', ['sub', 'client_id'])
        .execute();
    },
  },
  // Interaction helper: the session cookie is a secret; only its hash is stored. `sid` stays the
  // public session id (ID-token `sid`, back-channel logout), so the cookie never leaves the browser.
  '0002-session-cookie-hash': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('sessions').addColumn('cookie_hash', 'text').execute();
      await db.schema
        .createIndex('sessions_cookie_hash')
        .unique()
        .on('sessions')
        .column('cookie_hash')
        .execute();
      await db.schema.createIndex('sessions_sub').on('sessions').column('sub').execute();
      // Logout revokes the session's grants.
      await db.schema.createIndex('grants_sid').on('grants').column('sid').execute();
    },
  },
  // Every issued access token is a row, so every index is paid on the hottest write. Kept: what a
  // query looks up. Partial where most rows have no value (client credentials have no grant,
  // only exchanged tokens a parent): those rows skip the index. expires_at alone had no query;
  // emergency rotation and key retirement look tokens up by kid and expiry.
  '0003-access-token-indexes': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropIndex('access_tokens_expires').execute();
      await db.schema.dropIndex('access_tokens_grant').execute();
      await db.schema.dropIndex('access_tokens_parent').execute();
      // Family revocation (revokeGrant, afterIssue).
      await db.schema
        .createIndex('access_tokens_grant')
        .on('access_tokens')
        .column('grant_id')
        .where(sql.ref('grant_id'), 'is not', null)
        .execute();
      // Tokens exchanged from a revoked one (RFC 8693).
      await db.schema
        .createIndex('access_tokens_parent')
        .on('access_tokens')
        .column('parent_jti')
        .where(sql.ref('parent_jti'), 'is not', null)
        .execute();
      // Unexpired tokens of a signing key (emergency rotation, retirement).
      await db.schema
        .createIndex('access_tokens_kid_expires')
        .on('access_tokens')
        .columns(['kid', 'expires_at'])
        .where(sql.ref('kid'), 'is not', null)
        .execute();
    },
  },
  // RFC 8705: mutual-TLS client authentication (the registered certificate name of a
  // tls_client_auth client) and certificate-bound tokens (x5t#S256 of access tokens and of a public
  // client's refresh family). Added nullable (or defaulted) columns only: instances of the previous
  // version keep working while others upgrade, and restart on the newer schema (docs/upgrades.md).
  '0004-mtls': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('clients').addColumn('tls_client_auth_kind', 'text').execute();
      await db.schema.alterTable('clients').addColumn('tls_client_auth_value', 'text').execute();
      await db.schema
        .alterTable('clients')
        .addColumn('tls_bound_tokens', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable('grants').addColumn('x5t_s256', 'text').execute();
      await db.schema.alterTable('access_tokens').addColumn('x5t_s256', 'text').execute();
    },
  },
};

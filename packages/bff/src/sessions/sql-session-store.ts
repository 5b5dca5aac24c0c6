import { openSecret, sealSecret } from '@gatehouse/core';
import type { Kysely, Selectable } from 'kysely';
import type { BffDatabase } from './migrations.js';
import type {
  BffSession,
  PendingLogin,
  SessionMatch,
  SessionStore,
  SessionSummary,
  SessionTokens,
} from './session-store.js';

export interface SqlSessionStoreOptions {
  readonly db: Kysely<BffDatabase>;
  /** AES-256-GCM key sealing tokens and PKCE verifiers at rest (ASVS V8.3). */
  readonly encryptionKey: Uint8Array;
  /** Closes the database when the store closes (when the store opened it). */
  readonly onClose?: () => Promise<void>;
}

type SessionRow = Selectable<BffDatabase['bff_sessions']>;

/**
 * Sessions in SQLite or PostgreSQL (one kysely query layer). Each sealed column is bound to its
 * row and column by the AAD, so a ciphertext moved to another session does not open.
 */
export function createSqlSessionStore(options: SqlSessionStoreOptions): SessionStore {
  const { db, encryptionKey: key } = options;
  const seal = (value: string, aad: string): string => sealSecret(key, value, aad);
  const open = (value: string, aad: string): string => openSecret(key, value, aad).toString('utf8');
  const tokenAad = (ref: string, column: string): string => `bff:${ref}:${column}`;

  const toSession = (row: SessionRow): BffSession => ({
    ref: row.ref,
    sub: row.sub,
    name: row.name,
    opSid: row.op_sid,
    idToken: open(row.id_token, tokenAad(row.ref, 'id_token')),
    accessToken: open(row.access_token, tokenAad(row.ref, 'access_token')),
    refreshToken:
      row.refresh_token === null ? null : open(row.refresh_token, tokenAad(row.ref, 'refresh_token')),
    accessExpiresAt: row.access_expires_at,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
  });

  const sealedTokens = (ref: string, tokens: SessionTokens) => ({
    id_token: seal(tokens.idToken, tokenAad(ref, 'id_token')),
    access_token: seal(tokens.accessToken, tokenAad(ref, 'access_token')),
    refresh_token:
      tokens.refreshToken === null ? null : seal(tokens.refreshToken, tokenAad(ref, 'refresh_token')),
    access_expires_at: tokens.accessExpiresAt,
  });

  return {
    async savePendingLogin(idHash, login) {
      await db
        .insertInto('bff_login_requests')
        .values({
          id_hash: idHash,
          state: login.state,
          nonce: login.nonce,
          code_verifier: seal(login.codeVerifier, `bff-login:${idHash}`),
          return_to: login.returnTo,
          expires_at: login.expiresAt,
        })
        .execute();
    },

    async takePendingLogin(idHash): Promise<PendingLogin | undefined> {
      const row = await db
        .deleteFrom('bff_login_requests')
        .where('id_hash', '=', idHash)
        .returningAll()
        .executeTakeFirst();
      if (row === undefined) return undefined;
      return {
        state: row.state,
        nonce: row.nonce,
        codeVerifier: open(row.code_verifier, `bff-login:${idHash}`),
        returnTo: row.return_to,
        expiresAt: row.expires_at,
      };
    },

    async create(idHash, session) {
      await db
        .insertInto('bff_sessions')
        .values({
          id_hash: idHash,
          ref: session.ref,
          sub: session.sub,
          name: session.name,
          op_sid: session.opSid,
          ...sealedTokens(session.ref, session),
          created_at: session.createdAt,
          last_seen_at: session.lastSeenAt,
          expires_at: session.expiresAt,
        })
        .execute();
    },

    async get(idHash) {
      const row = await db
        .selectFrom('bff_sessions')
        .selectAll()
        .where('id_hash', '=', idHash)
        .executeTakeFirst();
      return row === undefined ? undefined : toSession(row);
    },

    async touch(idHash, lastSeenAt) {
      await db
        .updateTable('bff_sessions')
        .set({ last_seen_at: lastSeenAt })
        .where('id_hash', '=', idHash)
        .execute();
    },

    async updateTokens(idHash, tokens) {
      const row = await db
        .selectFrom('bff_sessions')
        .select('ref')
        .where('id_hash', '=', idHash)
        .executeTakeFirst();
      if (row === undefined) return;
      await db
        .updateTable('bff_sessions')
        .set(sealedTokens(row.ref, tokens))
        .where('id_hash', '=', idHash)
        .execute();
    },

    async delete(idHash) {
      const row = await db
        .deleteFrom('bff_sessions')
        .where('id_hash', '=', idHash)
        .returningAll()
        .executeTakeFirst();
      return row === undefined ? undefined : toSession(row);
    },

    async deleteMatching(match: SessionMatch) {
      if (match.ref === undefined && match.sub === undefined && match.opSid === undefined) return [];
      let query = db.deleteFrom('bff_sessions');
      if (match.ref !== undefined) query = query.where('ref', '=', match.ref);
      if (match.sub !== undefined) query = query.where('sub', '=', match.sub);
      if (match.opSid !== undefined) query = query.where('op_sid', '=', match.opSid);
      const rows = await query.returningAll().execute();
      return rows.map(toSession);
    },

    async list(sub): Promise<readonly SessionSummary[]> {
      const rows = await db
        .selectFrom('bff_sessions')
        .select(['ref', 'sub', 'name', 'created_at', 'last_seen_at', 'expires_at'])
        .where('sub', '=', sub)
        .orderBy('created_at')
        .execute();
      return rows.map((row) => ({
        ref: row.ref,
        sub: row.sub,
        name: row.name,
        createdAt: row.created_at,
        lastSeenAt: row.last_seen_at,
        expiresAt: row.expires_at,
      }));
    },

    async deleteExpired(now, idleBefore) {
      const sessions = await db
        .deleteFrom('bff_sessions')
        .where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<=', idleBefore)]))
        .executeTakeFirst();
      const logins = await db
        .deleteFrom('bff_login_requests')
        .where('expires_at', '<=', now)
        .executeTakeFirst();
      return Number(sessions.numDeletedRows + logins.numDeletedRows);
    },

    async close() {
      await options.onClose?.();
    },
  };
}

import { hashToken, randomToken } from '@gatehouse/core';
import type { Kysely } from 'kysely';
import type { AuthServerDeps } from '../context.js';
import type { AuthDatabase } from '../db/schema.js';

/** A login session at the authorization server (the browser's single sign-on). */
export interface Session {
  /** Public session id: the ID-token `sid` and the back-channel logout key; never the cookie. */
  readonly sid: string;
  readonly sub: string;
  /** Epoch ms of the last authentication with a password. */
  readonly authTime: number;
  readonly expiresAt: number;
}

export interface SessionStore {
  /** The live session a cookie value names, if any (unknown, ended or expired: none). */
  current(cookie: string | undefined): Promise<Session | undefined>;
  /**
   * Records a successful login and returns a NEW cookie value (no session fixation, OWASP Session
   * Management: renew the id on authentication). The same user re-authenticating keeps the public
   * `sid` (clients already in the session stay notified at logout); another user gets a new session.
   */
  login(sub: string, previous: Session | undefined): Promise<{ session: Session; cookie: string }>;
  /** Ends a session; true when it was live. `within`: the caller's transaction, if any. */
  end(sid: string, within?: Kysely<AuthDatabase>): Promise<boolean>;
  /** Remembers that a client received a grant in the session (back-channel logout targets). */
  addClient(sid: string, clientId: string): Promise<void>;
  clientsOf(sid: string): Promise<string[]>;
}

export function createSessionStore(deps: Pick<AuthServerDeps, 'db' | 'now' | 'config'>): SessionStore {
  const { db } = deps;
  const ttlMs = deps.config.login.sessionTtlSec * 1000;

  return {
    async current(cookie) {
      if (cookie === undefined) return undefined;
      const row = await db
        .selectFrom('sessions')
        .select(['sid', 'sub', 'auth_time', 'expires_at'])
        .where('cookie_hash', '=', hashToken(cookie))
        .where('ended_at', 'is', null)
        .where('expires_at', '>', deps.now())
        .executeTakeFirst();
      return row === undefined
        ? undefined
        : { sid: row.sid, sub: row.sub, authTime: row.auth_time, expiresAt: row.expires_at };
    },

    async login(sub, previous) {
      const cookie = randomToken();
      const now = deps.now();
      if (previous?.sub === sub) {
        const result = await db
          .updateTable('sessions')
          .set({ cookie_hash: hashToken(cookie), auth_time: now, expires_at: now + ttlMs })
          .where('sid', '=', previous.sid)
          .where('ended_at', 'is', null)
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) === 1) {
          return { session: { sid: previous.sid, sub, authTime: now, expiresAt: now + ttlMs }, cookie };
        }
      }
      const session: Session = { sid: randomToken(16), sub, authTime: now, expiresAt: now + ttlMs };
      await db
        .insertInto('sessions')
        .values({
          sid: session.sid,
          cookie_hash: hashToken(cookie),
          sub,
          auth_time: now,
          created_at: now,
          expires_at: session.expiresAt,
          ended_at: null,
        })
        .execute();
      return { session, cookie };
    },

    async end(sid, within = db) {
      const result = await within
        .updateTable('sessions')
        .set({ ended_at: deps.now() })
        .where('sid', '=', sid)
        .where('ended_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async addClient(sid, clientId) {
      await db
        .insertInto('session_clients')
        .values({ sid, client_id: clientId })
        .onConflict((oc) => oc.columns(['sid', 'client_id']).doNothing())
        .execute();
    },

    async clientsOf(sid) {
      const rows = await db
        .selectFrom('session_clients')
        .select('client_id')
        .where('sid', '=', sid)
        .orderBy('client_id')
        .execute();
      return rows.map((r) => r.client_id);
    },
  };
}

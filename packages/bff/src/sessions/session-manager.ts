import { hashToken, randomToken, type Logger } from '@gatehouse/core';
import { ResponseBodyError } from 'openid-client';
import type { OidcClient, TokenSet } from '../oidc/oidc-client.js';
import type { BffSession, SessionMatch, SessionStore, SessionSummary } from './session-store.js';

export interface SessionManagerOptions {
  readonly store: SessionStore;
  readonly oidc: OidcClient;
  readonly now: () => number;
  readonly logger: Logger;
  readonly idleTimeoutSec: number;
  readonly absoluteTimeoutSec: number;
  readonly refreshBeforeExpirySec: number;
  /** Told when a session ends for a reason other than an explicit logout. */
  readonly onEnded?: (session: BffSession, reason: 'idle' | 'absolute' | 'refresh_refused') => void;
}

/** A live session found by its cookie. */
export interface CurrentSession {
  readonly idHash: string;
  readonly session: BffSession;
}

export interface SessionManager {
  /** The session of a cookie value, if it exists and neither timeout has passed (ASVS V3.3). */
  current(cookieValue: string | undefined): Promise<CurrentSession | undefined>;
  /**
   * A usable access token: refreshed shortly before expiry, once per session however many
   * requests ask at the same moment. Undefined when the session is gone (refresh refused).
   */
  accessToken(current: CurrentSession): Promise<string | undefined>;
  /** A new session with a fresh id (never reusing one the browser brought: no fixation). */
  start(
    tokens: TokenSet & { readonly idToken: string },
    sub: string,
    name: string | null,
    opSid: string | null,
  ): Promise<{ cookieValue: string; session: BffSession }>;
  /** Ends a session by its cookie value; resolves what was removed. */
  end(cookieValue: string | undefined): Promise<BffSession | undefined>;
  /** Ends every matching session (per user, per OP session, or one by ref). */
  endMatching(match: SessionMatch): Promise<readonly BffSession[]>;
  list(sub: string): Promise<readonly SessionSummary[]>;
  /** RFC 7009: the refresh token (which carries its access tokens along) or else the access token. */
  revokeAtOp(session: BffSession): Promise<boolean>;
  /** Removes expired sessions and logins from the store. */
  sweep(): Promise<number>;
}

class SubjectChanged extends Error {}

/** When `expires_in` is missing (it is RECOMMENDED, RFC 6749 §5.1), assume a short life. */
const DEFAULT_EXPIRES_IN_SEC = 60;

export function createSessionManager(options: SessionManagerOptions): SessionManager {
  const { store, oidc, now, logger } = options;
  const idleMs = options.idleTimeoutSec * 1000;
  const refreshBeforeMs = options.refreshBeforeExpirySec * 1000;
  // Single flight per session: concurrent requests share one refresh (a second refresh of the
  // same rotating refresh token would look like reuse, RFC 9700 §4.14.2, and kill the family).
  const refreshing = new Map<string, Promise<string | undefined>>();

  const fresh = (session: BffSession): boolean => session.accessExpiresAt - refreshBeforeMs > now();
  const accessExpiry = (tokens: TokenSet): number =>
    now() + (tokens.expiresIn ?? DEFAULT_EXPIRES_IN_SEC) * 1000;

  async function refreshNow(idHash: string): Promise<string | undefined> {
    const latest = await store.get(idHash);
    if (latest === undefined) return undefined;
    if (fresh(latest)) return latest.accessToken;
    if (latest.refreshToken === null) {
      return latest.accessExpiresAt > now() ? latest.accessToken : undefined;
    }
    let tokens: TokenSet;
    try {
      tokens = await oidc.refresh(latest.refreshToken);
      // OIDC Core §12.2: an ID token from a refresh must be about the same user.
      if (tokens.claims !== undefined && tokens.claims.sub !== latest.sub) throw new SubjectChanged();
    } catch (err) {
      if (err instanceof ResponseBodyError || err instanceof SubjectChanged) {
        // invalid_grant and the like: the grant is dead (revoked, expired, reused); so is the session.
        await store.delete(idHash);
        options.onEnded?.(latest, 'refresh_refused');
        return undefined;
      }
      // The OP is unreachable: keep serving the current token while it is still valid.
      if (latest.accessExpiresAt > now()) return latest.accessToken;
      throw err;
    }
    await store.updateTokens(idHash, {
      idToken: tokens.idToken ?? latest.idToken,
      accessToken: tokens.accessToken,
      // RFC 6749 §6: without a new refresh token the old one stays valid.
      refreshToken: tokens.refreshToken ?? latest.refreshToken,
      accessExpiresAt: accessExpiry(tokens),
    });
    return tokens.accessToken;
  }

  return {
    async current(cookieValue) {
      if (cookieValue === undefined) return undefined;
      const idHash = hashToken(cookieValue);
      const session = await store.get(idHash);
      if (session === undefined) return undefined;
      const at = now();
      const expired =
        at >= session.expiresAt ? 'absolute' : at - session.lastSeenAt >= idleMs ? 'idle' : undefined;
      if (expired !== undefined) {
        await store.delete(idHash);
        options.onEnded?.(session, expired);
        return undefined;
      }
      // Activity extends the idle window; writes at most once a second per session.
      if (at - session.lastSeenAt >= 1000) {
        await store.touch(idHash, at);
        return { idHash, session: { ...session, lastSeenAt: at } };
      }
      return { idHash, session };
    },

    accessToken(current) {
      if (fresh(current.session)) return Promise.resolve(current.session.accessToken);
      let flight = refreshing.get(current.idHash);
      if (flight === undefined) {
        flight = refreshNow(current.idHash).finally(() => refreshing.delete(current.idHash));
        refreshing.set(current.idHash, flight);
      }
      return flight;
    },

    async start(tokens, sub, name, opSid) {
      const cookieValue = randomToken(32);
      const at = now();
      const session: BffSession = {
        ref: randomToken(16),
        sub,
        name,
        opSid,
        idToken: tokens.idToken,
        accessToken: tokens.accessToken,
        refreshToken: tokens.refreshToken ?? null,
        accessExpiresAt: accessExpiry(tokens),
        createdAt: at,
        lastSeenAt: at,
        expiresAt: at + options.absoluteTimeoutSec * 1000,
      };
      await store.create(hashToken(cookieValue), session);
      return { cookieValue, session };
    },

    async end(cookieValue) {
      return cookieValue === undefined ? undefined : store.delete(hashToken(cookieValue));
    },

    endMatching: (match) => store.deleteMatching(match),

    list: (sub) => store.list(sub),

    async revokeAtOp(session) {
      try {
        if (session.refreshToken !== null) await oidc.revoke(session.refreshToken, 'refresh_token');
        else await oidc.revoke(session.accessToken, 'access_token');
        return true;
      } catch (err) {
        logger.warn({ err: { name: (err as Error).name } }, 'token revocation at the OP failed');
        return false;
      }
    },

    sweep: () => store.deleteExpired(now(), now() - idleMs),
  };
}

/**
 * Server-side sessions (OWASP ASVS V3, V7): the browser holds only an opaque 256-bit id; the store
 * is keyed by its SHA-256, so a leaked database yields no usable cookie. Tokens never leave the
 * server.
 */

/** One logged-in browser. */
export interface BffSession {
  /** Public handle for listing and revoking; never the cookie value nor its hash. */
  readonly ref: string;
  readonly sub: string;
  readonly name: string | null;
  /** The OP's `sid` (ID token claim), the key of back-channel logout (OIDC BCL 1.0 §2.4). */
  readonly opSid: string | null;
  readonly idToken: string;
  readonly accessToken: string;
  readonly refreshToken: string | null;
  /** Epoch ms after which the access token is no longer used. */
  readonly accessExpiresAt: number;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  /** Absolute timeout, epoch ms. */
  readonly expiresAt: number;
}

/** What listing shows: never a token. */
export interface SessionSummary {
  readonly ref: string;
  readonly sub: string;
  readonly name: string | null;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  readonly expiresAt: number;
}

/** An authorization request in flight, bound to the browser that started it (RFC 9700 §4.7.1). */
export interface PendingLogin {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
  readonly returnTo: string;
  readonly expiresAt: number;
}

export interface SessionTokens {
  readonly idToken: string;
  readonly accessToken: string;
  readonly refreshToken: string | null;
  readonly accessExpiresAt: number;
}

/** Which sessions an operation applies to (all given members must match). */
export interface SessionMatch {
  readonly ref?: string;
  readonly sub?: string;
  readonly opSid?: string;
}

/**
 * The storage contract; ids are always the SHA-256 of the cookie value (`hashToken`). Removals
 * return what they removed, so the caller can revoke the refresh tokens at the OP.
 */
export interface SessionStore {
  savePendingLogin(idHash: string, login: PendingLogin): Promise<void>;
  /** Single use: the record is gone once read (a replayed callback finds nothing). */
  takePendingLogin(idHash: string): Promise<PendingLogin | undefined>;
  create(idHash: string, session: BffSession): Promise<void>;
  get(idHash: string): Promise<BffSession | undefined>;
  touch(idHash: string, lastSeenAt: number): Promise<void>;
  updateTokens(idHash: string, tokens: SessionTokens): Promise<void>;
  delete(idHash: string): Promise<BffSession | undefined>;
  deleteMatching(match: SessionMatch): Promise<readonly BffSession[]>;
  list(sub: string): Promise<readonly SessionSummary[]>;
  /** Drops sessions past their absolute lifetime or idle since `idleBefore`, and stale logins. */
  deleteExpired(now: number, idleBefore: number): Promise<number>;
  close(): Promise<void>;
}

export const summaryOf = (session: BffSession): SessionSummary => ({
  ref: session.ref,
  sub: session.sub,
  name: session.name,
  createdAt: session.createdAt,
  lastSeenAt: session.lastSeenAt,
  expiresAt: session.expiresAt,
});

import { createVerifier, isGuardError, type Verifier } from '@gatehouse/guard';

/** OIDC Back-Channel Logout 1.0 §2.4: the `events` member of a logout token. */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** Which sessions a valid logout token ends. */
export interface LogoutTarget {
  readonly sub: string | undefined;
  readonly sid: string | undefined;
}

export interface LogoutTokenVerifierOptions {
  readonly issuer: string;
  /** Our client_id: the token's `aud` (§2.4). */
  readonly clientId: string;
  readonly jwksUri: string;
  readonly now: () => number;
}

export interface LogoutTokenVerifier {
  /** Resolves the target, or undefined when the token must be refused (reason in `refusal`). */
  verify(token: string): Promise<{ target: LogoutTarget } | { refusal: string }>;
  close(): void;
}

/**
 * Validation per OIDC Back-Channel Logout 1.0 §2.6: signature with the OP's JWKS, `iss`, `aud`,
 * `iat`, `exp` and `typ` `logout+jwt` (§2.4, RFC 8725 §3.11, so an ID or access token is never
 * taken for a logout token) by @gatehouse/guard; then the event member, the absence of `nonce`,
 * `sid` and/or `sub`, and a `jti` seen once (§2.6 step 7: replay of the same token is refused).
 */
export function createLogoutTokenVerifier(options: LogoutTokenVerifierOptions): LogoutTokenVerifier {
  const verifier: Verifier = createVerifier({
    issuer: options.issuer,
    audience: options.clientId,
    jwksUri: options.jwksUri,
    typ: 'logout+jwt',
    requiredClaims: ['iss', 'aud', 'iat', 'exp', 'jti', 'events'],
    // A logout token is a short-lived one-off message.
    maxTokenAgeSec: 600,
    cache: false,
    prewarm: false,
    now: options.now,
  });
  // jti → exp (ms); entries leave once the token could no longer verify anyway.
  const seen = new Map<string, number>();

  return {
    async verify(token) {
      let claims: Readonly<Record<string, unknown>>;
      try {
        claims = (await verifier.verify(token)).claims;
      } catch (err) {
        return { refusal: isGuardError(err) ? err.code : 'invalid' };
      }
      const events = claims['events'];
      const event =
        typeof events === 'object' && events !== null && !Array.isArray(events)
          ? (events as Record<string, unknown>)[BACKCHANNEL_LOGOUT_EVENT]
          : undefined;
      if (typeof event !== 'object' || event === null || Array.isArray(event)) return { refusal: 'events' };
      // §2.4: a nonce is prohibited, so an ID token can never pass as a logout token.
      if (claims['nonce'] !== undefined) return { refusal: 'nonce' };
      const sub = typeof claims['sub'] === 'string' && claims['sub'] !== '' ? claims['sub'] : undefined;
      const sid = typeof claims['sid'] === 'string' && claims['sid'] !== '' ? claims['sid'] : undefined;
      if (sub === undefined && sid === undefined) return { refusal: 'sub_or_sid' };
      const jti = claims['jti'];
      if (typeof jti !== 'string' || jti === '') return { refusal: 'jti' };
      const now = options.now();
      for (const [key, expiresAt] of seen) if (expiresAt < now) seen.delete(key);
      if (seen.has(jti)) return { refusal: 'replay' };
      const exp = typeof claims['exp'] === 'number' ? claims['exp'] * 1000 : now;
      seen.set(jti, exp + 60_000);
      return { target: { sub, sid } };
    },
    close() {
      verifier.close();
    },
  };
}

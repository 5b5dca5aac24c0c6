/** RFC 7800 §3.1 confirmation: the key a sender-constrained token is bound to. */
export interface Confirmation {
  /** RFC 9449 §6.1: JWK SHA-256 thumbprint of the DPoP key. */
  readonly jkt?: string;
  /** RFC 8705 §3.1: SHA-256 thumbprint of the client certificate. */
  readonly 'x5t#S256'?: string;
}

/** Who a verified access token speaks for. Frozen: cached principals are shared between requests. */
export interface Principal {
  /** RFC 9068 §2.2 `sub`: the user, or the client itself for client-credentials tokens. */
  readonly sub: string;
  /** RFC 9068 §2.2 `client_id` (or `azp`). */
  readonly clientId: string | undefined;
  /** RFC 9068 §2.2.3 `scope`, split on spaces. */
  readonly scopes: readonly string[];
  readonly audience: readonly string[];
  readonly issuer: string;
  /** `exp`, epoch seconds. */
  readonly expiresAt: number;
  /** `iat`, epoch seconds. */
  readonly issuedAt: number | undefined;
  readonly jti: string | undefined;
  /** OpenID Connect session id, for session-wide revocation. */
  readonly sid: string | undefined;
  readonly roles: readonly string[];
  readonly tenant: string | undefined;
  readonly cnf: Confirmation | undefined;
  /** Every claim of the token, frozen. */
  readonly claims: Readonly<Record<string, unknown>>;
}

/**
 * What both authorization servers of the benchmark are configured with, so the two issue the same
 * tokens: one resource server (RFC 8707 audience) with its scopes, the lifetime of its access tokens,
 * the clients (a JWT client, an opaque-token client, the resource server that introspects, and a
 * confidential client of the authorization-code flow), and the authorization codes both mint.
 */
import { createHash, randomBytes } from 'node:crypto';

/** RFC 8707 resource indicator: the `aud` of every access token issued in the benchmark. */
export const AUDIENCE = 'https://api.bench.example';
/** Scopes of the resource; every token request asks for SCOPE. */
export const RESOURCE_SCOPES = ['api:read', 'api:write'];
export const SCOPE = 'api:read';
/**
 * Access-token lifetime: the introspection scenario presents one pre-issued token for the whole run,
 * so it must outlive a long run (an expired token would be answered `active: false`).
 */
export const ACCESS_TOKEN_TTL_SEC = 3600;

/** The authorization-code scenario: what the (never shown) authorization request asked for. */
export const CODE_FLOW = /** @type {const} */ ({
  /** Registered for the code client and sent unchanged at the token endpoint (RFC 6749 §4.1.3). */
  redirectUri: 'https://client.bench.example/callback',
  /** OpenID Connect plus one resource scope: an ID token and an access token for AUDIENCE. */
  scope: 'openid api:read',
  /**
   * The user every code is issued to: an account of oidc-provider's `findAccount`, which the exchange
   * looks up; @gatehouse/auth-server reads no user row there (its tokens carry no user claims here).
   */
  sub: 'bench-user',
  /** RFC 6749 §4.1.2 recommends 10 minutes at most; both servers' default is 60 s. */
  codeTtlSec: 60,
  /** @gatehouse/auth-server's default, given to oidc-provider too (its own default is an hour). */
  idTokenTtlSec: 300,
});

/** Client ids, the same on both servers. */
export const CLIENT_IDS = /** @type {const} */ ({
  /** client_credentials, RFC 9068 JWT access tokens (the token scenario). */
  jwt: 'bench-jwt-client',
  /** client_credentials, opaque access tokens (the token introspected in the introspection scenario). */
  opaque: 'bench-opaque-client',
  /** The resource server: authenticates to the introspection endpoint. */
  resourceServer: 'bench-resource-server',
  /** Confidential authorization-code client (client_secret_basic, PKCE S256). */
  code: 'bench-code-client',
});

/**
 * @typedef {object} ClientCredentials
 * @property {string} id
 * @property {string} secret
 */

/**
 * @typedef {object} ReadyMessage What a server child process sends once it listens.
 * @property {'ready'} type
 * @property {string} url Base URL (the issuer).
 * @property {string} tokenPath
 * @property {string} introspectionPath
 * @property {Record<keyof typeof CLIENT_IDS, ClientCredentials>} clients
 * @property {Record<string, string>} versions Package versions of the contender.
 */

/**
 * @typedef {object} MintedCode An authorization code minted in a server's process, with the PKCE
 *   verifier its challenge was made from.
 * @property {string} code
 * @property {string} codeVerifier
 */

/**
 * A fresh PKCE pair (RFC 7636 §4.1: 32 random octets, base64url, 43 characters; §4.2: S256 challenge).
 * @returns {{ codeVerifier: string, codeChallenge: string }}
 */
export function newPkcePair() {
  const codeVerifier = randomBytes(32).toString('base64url');
  const codeChallenge = createHash('sha256').update(codeVerifier, 'ascii').digest('base64url');
  return { codeVerifier, codeChallenge };
}

/** A fresh client secret: 256 bits, base64url (never printed or written anywhere). */
export function newSecret() {
  return randomBytes(32).toString('base64url');
}

/**
 * What both authorization servers of the benchmark are configured with, so the two issue the same
 * tokens: one resource server (RFC 8707 audience) with its scopes, the lifetime of its access tokens,
 * and the clients (a JWT client, an opaque-token client, and the resource server that introspects).
 */
import { randomBytes } from 'node:crypto';

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

/** Client ids, the same on both servers. */
export const CLIENT_IDS = /** @type {const} */ ({
  /** client_credentials, RFC 9068 JWT access tokens (the token scenario). */
  jwt: 'bench-jwt-client',
  /** client_credentials, opaque access tokens (the token introspected in the introspection scenario). */
  opaque: 'bench-opaque-client',
  /** The resource server: authenticates to the introspection endpoint. */
  resourceServer: 'bench-resource-server',
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

/** A fresh client secret: 256 bits, base64url (never printed or written anywhere). */
export function newSecret() {
  return randomBytes(32).toString('base64url');
}

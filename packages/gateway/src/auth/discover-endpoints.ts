import { GatehouseError } from '@gatehouse/core';
import { authUnavailable, type AuthServerHttp } from './auth-server-http.js';

export interface AuthServerEndpoints {
  readonly introspection: string;
  readonly token: string;
  readonly jwks: string;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** https, or plain http only on loopback (the rule guard applies to `jwks_uri`). */
export function isAllowedEndpoint(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.hash !== '' || url.username !== '' || url.password !== '') return false;
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
}

/** RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path. */
export function metadataUrl(issuer: string): string {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.origin}/.well-known/oauth-authorization-server${path}`;
}

/**
 * Reads the auth server's metadata (RFC 8414) for the introspection, token and JWKS endpoints.
 * The `issuer` in the answer must be the configured one exactly (RFC 8414 §3.3), or the document
 * could be another server's.
 */
export async function discoverEndpoints(http: AuthServerHttp, issuer: string): Promise<AuthServerEndpoints> {
  const { status, body } = await http.getJson(metadataUrl(issuer));
  if (status !== 200 || typeof body !== 'object' || body === null) {
    throw authUnavailable(`discovery answered ${status}`);
  }
  const metadata = body as Record<string, unknown>;
  if (metadata['issuer'] !== issuer) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      detail: 'discovery issuer differs from the configured issuer',
    });
  }
  const endpoint = (name: string): string => {
    const value = metadata[name];
    if (typeof value !== 'string' || !isAllowedEndpoint(value)) {
      throw new GatehouseError('ERR_CONFIG_INVALID', {
        detail: `discovery: ${name} missing or not https`,
      });
    }
    return value;
  };
  return {
    introspection: endpoint('introspection_endpoint'),
    token: endpoint('token_endpoint'),
    jwks: endpoint('jwks_uri'),
  };
}

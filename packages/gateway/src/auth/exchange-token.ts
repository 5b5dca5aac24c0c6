import { authUnavailable, type AuthServerHttp } from './auth-server-http.js';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

/** An internal JWT for one audience (the phantom token's counterpart). */
export interface ExchangedToken {
  readonly ok: true;
  readonly jwt: string;
  /** When the JWT expires, epoch ms (the earlier of `expires_in` and its `exp`). */
  readonly expiresAtMs: number;
  readonly scopes: ReadonlySet<string>;
  readonly jti: string | undefined;
  readonly kid: string | undefined;
}

/** The auth server refused: the token is not for this audience, or no longer active. */
export interface ExchangeRefused {
  readonly ok: false;
  readonly error: 'invalid_target' | 'invalid_grant';
}

export type Exchange = ExchangedToken | ExchangeRefused;

const JWS = /^[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+$/;

function decodeSegment(segment: string): Record<string, unknown> {
  const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TypeError('not an object');
  return value as Record<string, unknown>;
}

/**
 * RFC 8693 §2.1 `resource` must be an absolute URI (RFC 8707 §2); a logical name goes in `audience`.
 */
export function targetParameter(audience: string): 'resource' | 'audience' {
  try {
    return new URL(audience).hash === '' && !audience.includes('#') ? 'resource' : 'audience';
  } catch {
    return 'audience';
  }
}

/**
 * Reads an RFC 8693 §2.2.1 answer. The token is read (not verified: it comes straight from the
 * auth server over the gateway's authenticated channel, and the service verifies it) for its
 * `exp`, `scope`, `jti` and `kid`.
 */
export function parseExchange(status: number, body: unknown, nowMs: number): Exchange {
  const answer = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (status === 400) {
    const error = answer['error'];
    // RFC 8693 §2.2.2 (RFC 6749 §5.2): the subject token is inactive, or not for this audience.
    if (error === 'invalid_grant' || error === 'invalid_target') return { ok: false, error };
    // Anything else (invalid_request, unauthorized_client…) is the gateway's misconfiguration.
    throw authUnavailable(`token exchange refused: ${typeof error === 'string' ? error : 'no error'}`);
  }
  if (status !== 200) throw authUnavailable(`token exchange answered ${status}`);
  const token = answer['access_token'];
  const match = typeof token === 'string' ? JWS.exec(token) : null;
  if (match === null) throw authUnavailable('token exchange: access_token is not a compact JWT');
  // The service gets it as a bearer token: a sender-constrained answer could not be used.
  if (typeof answer['token_type'] !== 'string' || answer['token_type'].toLowerCase() !== 'bearer') {
    throw authUnavailable('token exchange: token_type is not Bearer');
  }
  const issuedType = answer['issued_token_type'];
  if (issuedType !== ACCESS_TOKEN_TYPE && issuedType !== JWT_TOKEN_TYPE) {
    throw authUnavailable('token exchange: unexpected issued_token_type');
  }
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    header = decodeSegment((token as string).slice(0, (token as string).indexOf('.')));
    claims = decodeSegment(match[1] as string);
  } catch (err) {
    throw authUnavailable('token exchange: JWT not decodable', err);
  }
  const exp = claims['exp'];
  const expiresIn = answer['expires_in'];
  const candidates: number[] = [];
  if (typeof exp === 'number' && Number.isFinite(exp)) candidates.push(exp * 1000);
  if (typeof expiresIn === 'number' && Number.isFinite(expiresIn)) candidates.push(nowMs + expiresIn * 1000);
  if (candidates.length === 0) throw authUnavailable('token exchange: no expiry');
  const scope = typeof claims['scope'] === 'string' ? claims['scope'] : '';
  return {
    ok: true,
    jwt: token as string,
    expiresAtMs: Math.min(...candidates),
    scopes: new Set(scope.split(' ').filter((s) => s !== '')),
    jti: typeof claims['jti'] === 'string' ? claims['jti'] : undefined,
    kid: typeof header['kid'] === 'string' ? header['kid'] : undefined,
  };
}

/**
 * RFC 8693 token exchange for the phantom-token step: the external access token (opaque, or a
 * sender-constrained JWT) is swapped for an unbound internal JWT for exactly one audience.
 * Impersonation only (no actor_token); the auth server keeps `sub` and `client_id`.
 */
export async function exchangeToken(
  http: AuthServerHttp,
  endpoint: string,
  subjectToken: string,
  audience: string,
  nowMs: () => number,
): Promise<Exchange> {
  const form = new URLSearchParams({
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: subjectToken,
    subject_token_type: ACCESS_TOKEN_TYPE,
    requested_token_type: ACCESS_TOKEN_TYPE,
    [targetParameter(audience)]: audience,
  }).toString();
  const { status, body } = await http.postForm(endpoint, form);
  return parseExchange(status, body, nowMs());
}

import { authUnavailable, type AuthServerHttp } from './auth-server-http.js';

/** An active token as an RFC 7662 §2.2 answer describes it. */
export interface ActiveToken {
  readonly active: true;
  readonly sub: string | undefined;
  readonly clientId: string | undefined;
  readonly scopes: ReadonlySet<string>;
  /** Epoch seconds. */
  readonly exp: number | undefined;
  readonly iat: number | undefined;
  readonly jti: string | undefined;
  readonly sid: string | undefined;
  readonly aud: readonly string[] | undefined;
  /** RFC 9449 §6.2 `cnf.jkt`. */
  readonly jkt: string | undefined;
  /** RFC 8705 §3.2 `cnf.x5t#S256`. */
  readonly x5t: string | undefined;
}

export type Introspection = { readonly active: false } | ActiveToken;

const INACTIVE: Introspection = Object.freeze({ active: false });

const optionalString = (value: unknown, name: string): string | undefined => {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw authUnavailable(`introspection: ${name} is not a string`);
  return value;
};
const optionalSeconds = (value: unknown, name: string): number | undefined => {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw authUnavailable(`introspection: ${name} is not a number`);
  return value;
};

/**
 * Reads an RFC 7662 §2.2 answer. Anything but `active: true` is inactive; an active answer with
 * members of the wrong type, another issuer, or a token type that is not an access token is a
 * misbehaving server (ERR_GATEWAY_AUTH_UNAVAILABLE, fail closed, not cached).
 */
export function parseIntrospection(body: unknown, issuer: string): Introspection {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw authUnavailable('introspection answer is not a JSON object');
  }
  const answer = body as Record<string, unknown>;
  if (answer['active'] !== true) return INACTIVE;
  const iss = optionalString(answer['iss'], 'iss');
  if (iss !== undefined && iss !== issuer) throw authUnavailable('introspection: unexpected iss');
  const tokenType = optionalString(answer['token_type'], 'token_type')?.toLowerCase();
  // RFC 7662 §2.2 token_type (RFC 6749 §7.1): only access tokens authenticate requests.
  if (tokenType !== undefined && tokenType !== 'bearer' && tokenType !== 'dpop') return INACTIVE;
  const scope = optionalString(answer['scope'], 'scope');
  const audValue = answer['aud'];
  let aud: readonly string[] | undefined;
  if (typeof audValue === 'string') aud = [audValue];
  else if (Array.isArray(audValue) && audValue.every((a) => typeof a === 'string')) aud = audValue;
  else if (audValue !== undefined) throw authUnavailable('introspection: aud is not a string or array');
  const cnfValue = answer['cnf'];
  if (cnfValue !== undefined && (typeof cnfValue !== 'object' || cnfValue === null))
    throw authUnavailable('introspection: cnf is not an object');
  const cnf = (cnfValue ?? {}) as Record<string, unknown>;
  const jkt = optionalString(cnf['jkt'], 'cnf.jkt');
  // A DPoP token type without a key to check the proof against cannot be enforced.
  if (tokenType === 'dpop' && jkt === undefined) throw authUnavailable('introspection: DPoP without cnf.jkt');
  return {
    active: true,
    sub: optionalString(answer['sub'], 'sub'),
    clientId: optionalString(answer['client_id'], 'client_id'),
    scopes: new Set(scope === undefined || scope === '' ? [] : scope.split(' ').filter((s) => s !== '')),
    exp: optionalSeconds(answer['exp'], 'exp'),
    iat: optionalSeconds(answer['iat'], 'iat'),
    jti: optionalString(answer['jti'], 'jti'),
    sid: optionalString(answer['sid'], 'sid'),
    aud,
    jkt,
    x5t: optionalString(cnf['x5t#S256'], 'cnf.x5t#S256'),
  };
}

/** RFC 7662 §2.1: POST the token to the introspection endpoint as the gateway's client. */
export async function introspectToken(
  http: AuthServerHttp,
  endpoint: string,
  token: string,
  issuer: string,
): Promise<Introspection> {
  // The hint only orders the server's search (RFC 7662 §2.1); the gateway only wants access tokens.
  const form = `token=${encodeURIComponent(token)}&token_type_hint=access_token`;
  const { status, body } = await http.postForm(endpoint, form);
  // 401/403 here means the gateway's own client is misconfigured: not the caller's fault.
  if (status !== 200) throw authUnavailable(`introspection answered ${status}`);
  return parseIntrospection(body, issuer);
}

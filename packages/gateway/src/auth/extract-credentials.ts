import { GatehouseError } from '@gatehouse/core';

export interface Credentials {
  readonly scheme: 'Bearer' | 'DPoP';
  readonly token: string;
}

/** Longest token accepted before any parsing (guard's `maxTokenBytes` default). */
export const MAX_TOKEN_LENGTH = 8192;

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token;
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=". RFC 9449 §7.1: same for DPoP.
const CREDENTIALS = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*) +([A-Za-z0-9\-._~+/]+=*)$/;
const SCHEME = /^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*(?= |$)/;

const MISSING = (detail: string): GatehouseError => new GatehouseError('ERR_OAUTH_TOKEN_MISSING', { detail });
const MALFORMED = (detail: string): GatehouseError =>
  new GatehouseError('ERR_OAUTH_INVALID_REQUEST', { detail });

/**
 * The access token of a request, from the `Authorization` field only (RFC 6750 §2.1; never the
 * query or the body, §2.2-2.3 are not supported, RFC 9700 §2.4.3). Scheme `Bearer` or `DPoP`
 * (RFC 9449 §7.1), case-insensitive (RFC 9110 §11.1), exactly one credential. Throws
 * `ERR_OAUTH_TOKEN_MISSING` for no field or another scheme (RFC 6750 §3.1: a bare challenge) and
 * `ERR_OAUTH_INVALID_REQUEST` for several fields or a malformed credential.
 */
export function extractCredentials(authorization: string | undefined): Credentials {
  if (authorization === undefined) throw MISSING('no Authorization field');
  // A b64token has no comma: one here means several fields joined (RFC 9110 §5.3) or several credentials.
  if (authorization.includes(',')) throw MALFORMED('several Authorization fields or credentials');
  const scheme = SCHEME.exec(authorization)?.[0].toLowerCase();
  if (scheme === undefined) throw MALFORMED('credentials syntax');
  if (scheme !== 'bearer' && scheme !== 'dpop') throw MISSING('unsupported scheme');
  // Refuse before running a regular expression over a huge field.
  if (authorization.length > MAX_TOKEN_LENGTH + 64) throw new GatehouseError('ERR_JWT_TOO_LARGE');
  const match = CREDENTIALS.exec(authorization);
  if (match === null) throw MALFORMED('credentials syntax');
  const token = match[2] as string;
  if (token.length > MAX_TOKEN_LENGTH) throw new GatehouseError('ERR_JWT_TOO_LARGE');
  return { scheme: scheme === 'bearer' ? 'Bearer' : 'DPoP', token };
}

/**
 * The `Authorization` and `DPoP` fields from `IncomingMessage.rawHeaders`. Node keeps only the
 * first of several `Authorization` fields in `headers`, which would hide a second credential: here
 * repeated fields are joined with `, ` so `extractCredentials` and the DPoP check refuse them.
 */
export function collectAuthHeaders(rawHeaders: readonly string[]): {
  authorization: string | undefined;
  dpop: string | undefined;
} {
  let authorization: string | undefined;
  let dpop: string | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    // Cheap length test first: this runs for every header of every request.
    if (name.length === 13 && name.toLowerCase() === 'authorization') {
      const value = rawHeaders[i + 1] as string;
      authorization = authorization === undefined ? value : `${authorization}, ${value}`;
    } else if (name.length === 4 && name.toLowerCase() === 'dpop') {
      const value = rawHeaders[i + 1] as string;
      dpop = dpop === undefined ? value : `${dpop}, ${value}`;
    }
  }
  return { authorization, dpop };
}

/**
 * A compact JWS has three dot-separated parts (RFC 7515 §7.1; the third is empty for `alg: none`,
 * which the JWT verifier then refuses by name). Anything else is treated as opaque.
 */
export function looksLikeJwt(token: string): boolean {
  const first = token.indexOf('.');
  if (first === -1) return false;
  const second = token.indexOf('.', first + 1);
  return second !== -1 && token.indexOf('.', second + 1) === -1;
}

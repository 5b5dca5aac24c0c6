import { GatehouseError, isGatehouseError, type ErrorCode } from '@gatehouse/core';
import type { AuthFailureReason } from './types.js';

export interface AuthFailure {
  readonly ok: false;
  readonly error: GatehouseError;
  readonly reason: AuthFailureReason;
}

/** Structural JWT refusals: the credential is not even a well-formed token. */
const MALFORMED: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ERR_OAUTH_INVALID_REQUEST',
  'ERR_JWT_MALFORMED',
  'ERR_JWT_TOO_LARGE',
  'ERR_JWT_BASE64URL_INVALID',
  'ERR_JWT_UTF8_INVALID',
  'ERR_JWT_JSON_INVALID',
  'ERR_JWT_DUPLICATE_MEMBER',
]);

export function refuse(error: GatehouseError, reason: AuthFailureReason): AuthFailure {
  return { ok: false, error, reason };
}

/** The metrics label of a refusal, by its stable code. */
export function reasonOf(code: ErrorCode): AuthFailureReason {
  if (code === 'ERR_OAUTH_TOKEN_MISSING') return 'missing';
  if (MALFORMED.has(code)) return 'malformed';
  if (code === 'ERR_JWT_EXPIRED') return 'expired';
  if (code === 'ERR_JWT_REVOKED') return 'revoked';
  if (code.startsWith('ERR_DPOP_')) return 'dpop';
  if (code.startsWith('ERR_MTLS_')) return 'mtls';
  return 'invalid';
}

/**
 * Turns anything thrown while authenticating into an outcome. A server-side failure (5xx: JWKS
 * unavailable, revocation source down, shared state down, a bug) is
 * `ERR_GATEWAY_AUTH_UNAVAILABLE` (503): the gateway fails closed, never open.
 */
export function classifyFailure(err: unknown): AuthFailure {
  if (isGatehouseError(err)) {
    if (err.status < 500) return refuse(err, reasonOf(err.code));
    if (err.code === 'ERR_GATEWAY_AUTH_UNAVAILABLE') return refuse(err, 'unavailable');
  }
  return refuse(
    new GatehouseError('ERR_GATEWAY_AUTH_UNAVAILABLE', {
      detail: isGatehouseError(err) ? err.code : 'unexpected error',
      cause: err,
    }),
    'unavailable',
  );
}

import { GatehouseError } from '@gatehouse/core';
import { describe, expect, it } from 'vitest';
import { classifyFailure, reasonOf } from './classify-failure.js';

describe('classifyFailure', () => {
  it.each([
    ['ERR_OAUTH_TOKEN_MISSING', 'missing'],
    ['ERR_OAUTH_INVALID_REQUEST', 'malformed'],
    ['ERR_JWT_MALFORMED', 'malformed'],
    ['ERR_JWT_TOO_LARGE', 'malformed'],
    ['ERR_JWT_BASE64URL_INVALID', 'malformed'],
    ['ERR_JWT_EXPIRED', 'expired'],
    ['ERR_JWT_REVOKED', 'revoked'],
    ['ERR_DPOP_REPLAYED', 'dpop'],
    ['ERR_DPOP_BINDING_REQUIRED', 'dpop'],
    ['ERR_MTLS_CERTIFICATE_MISMATCH', 'mtls'],
    ['ERR_JWT_SIGNATURE_INVALID', 'invalid'],
    ['ERR_JWT_AUDIENCE_INVALID', 'invalid'],
    ['ERR_JWKS_NO_MATCHING_KEY', 'invalid'],
  ] as const)('%s → %s, the error kept', (code, reason) => {
    const error = new GatehouseError(code);
    expect(reasonOf(code)).toBe(reason);
    expect(classifyFailure(error)).toEqual({ ok: false, error, reason });
  });

  it('keeps ERR_GATEWAY_AUTH_UNAVAILABLE as is', () => {
    const error = new GatehouseError('ERR_GATEWAY_AUTH_UNAVAILABLE', { detail: 'x' });
    expect(classifyFailure(error)).toEqual({ ok: false, error, reason: 'unavailable' });
  });

  it.each([
    ['a 503 guard error', new GatehouseError('ERR_JWKS_FETCH_FAILED'), 'ERR_JWKS_FETCH_FAILED'],
    ['a shared-state failure', new GatehouseError('ERR_STORE_UNAVAILABLE'), 'ERR_STORE_UNAVAILABLE'],
    ['a bug', new TypeError('x is undefined'), 'unexpected error'],
  ])('fails closed on %s: 503 ERR_GATEWAY_AUTH_UNAVAILABLE with the cause', (_name, cause, detail) => {
    const failure = classifyFailure(cause);
    expect(failure).toMatchObject({
      reason: 'unavailable',
      error: { code: 'ERR_GATEWAY_AUTH_UNAVAILABLE', status: 503, detail },
    });
    expect(failure.error.cause).toBe(cause);
  });
});

import { describe, expect, it } from 'vitest';
import { ERROR_CODES, isErrorCode, statusForCode, type ErrorCode, type ErrorCodeInfo } from './codes.js';

const codes = Object.keys(ERROR_CODES) as ErrorCode[];

describe('ERROR_CODES registry', () => {
  it.each(codes)('%s has an HTTP error status and a fixed message', (code) => {
    const info = ERROR_CODES[code];
    expect(info.status).toBeGreaterThanOrEqual(400);
    expect(info.status).toBeLessThanOrEqual(599);
    expect(Number.isInteger(info.status)).toBe(true);
    expect(typeof info.message).toBe('string');
    expect(info.message.trim()).not.toBe('');
  });

  it('codes are stable ERR_ identifiers', () => {
    for (const code of codes) expect(code).toMatch(/^ERR_[A-Z0-9_]+$/);
  });

  it('every 503 code carries a Retry-After hint and no OAuth error', () => {
    const unavailable = codes.filter((code) => ERROR_CODES[code].status === 503);
    expect(unavailable.length).toBeGreaterThan(0);
    for (const code of unavailable) {
      const info: ErrorCodeInfo = ERROR_CODES[code];
      expect(info.retryAfterSec).toBeGreaterThan(0);
      expect(info.oauthError).toBeUndefined();
    }
  });

  it('token failures are RFC 6750 §3.1 invalid_token answered with 401', () => {
    const invalidToken = codes.filter((code) => {
      const info: ErrorCodeInfo = ERROR_CODES[code];
      return info.oauthError === 'invalid_token';
    });
    expect(invalidToken).toContain('ERR_JWT_SIGNATURE_INVALID');
    for (const code of invalidToken) expect(ERROR_CODES[code].status).toBe(401);
  });

  it('insufficient_scope is 403 (RFC 6750 §3.1)', () => {
    expect(ERROR_CODES.ERR_INSUFFICIENT_SCOPE).toMatchObject({
      status: 403,
      oauthError: 'insufficient_scope',
    });
  });
});

describe('isErrorCode', () => {
  const cases: Array<{ value: unknown; expected: boolean }> = [
    { value: 'ERR_JWT_EXPIRED', expected: true },
    { value: 'ERR_INTERNAL', expected: true },
    { value: 'ERR_NOPE', expected: false },
    { value: 'err_jwt_expired', expected: false },
    { value: '', expected: false },
    // Inherited Object.prototype members are not codes.
    { value: 'toString', expected: false },
    { value: '__proto__', expected: false },
    { value: 'constructor', expected: false },
    { value: 42, expected: false },
    { value: null, expected: false },
    { value: undefined, expected: false },
    { value: { code: 'ERR_INTERNAL' }, expected: false },
  ];
  it.each(cases)('isErrorCode($value) is $expected', ({ value, expected }) => {
    expect(isErrorCode(value)).toBe(expected);
  });

  it('accepts every registered code', () => {
    for (const code of codes) expect(isErrorCode(code)).toBe(true);
  });
});

describe('statusForCode', () => {
  it('is the registry status for every code', () => {
    for (const code of codes) expect(statusForCode(code)).toBe(ERROR_CODES[code].status);
  });

  it.each([
    ['ERR_OAUTH_TOKEN_MISSING', 401],
    ['ERR_OAUTH_INVALID_REQUEST', 400],
    ['ERR_INSUFFICIENT_SCOPE', 403],
    ['ERR_JWT_ALG_NONE', 401],
    ['ERR_JWKS_FETCH_FAILED', 503],
    ['ERR_AUTHZ_DENIED', 403],
    ['ERR_CONFIG_INVALID', 500],
  ] as const)('%s -> %i', (code, status) => {
    expect(statusForCode(code)).toBe(status);
  });
});

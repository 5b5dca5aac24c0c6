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

  it('every 503 code carries a Retry-After hint; only the authorization server names an OAuth error', () => {
    const unavailable = codes.filter((code) => ERROR_CODES[code].status === 503);
    expect(unavailable.length).toBeGreaterThan(0);
    for (const code of unavailable) {
      const info: ErrorCodeInfo = ERROR_CODES[code];
      expect(info.retryAfterSec).toBeGreaterThan(0);
      expect(info.oauthError).toBe(
        code === 'ERR_OAUTH_TEMPORARILY_UNAVAILABLE' ? 'temporarily_unavailable' : undefined,
      );
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

describe('authorization-server and store codes', () => {
  const cases: Array<{
    code: ErrorCode;
    status: number;
    oauthError?: string;
    retryAfterSec?: number;
    source: string;
  }> = [
    { code: 'ERR_OAUTH_INVALID_CLIENT', status: 401, oauthError: 'invalid_client', source: 'RFC 6749 §5.2' },
    { code: 'ERR_OAUTH_INVALID_GRANT', status: 400, oauthError: 'invalid_grant', source: 'RFC 6749 §5.2' },
    {
      code: 'ERR_OAUTH_UNAUTHORIZED_CLIENT',
      status: 400,
      oauthError: 'unauthorized_client',
      source: 'RFC 6749 §5.2',
    },
    {
      code: 'ERR_OAUTH_UNSUPPORTED_GRANT_TYPE',
      status: 400,
      oauthError: 'unsupported_grant_type',
      source: 'RFC 6749 §5.2',
    },
    {
      code: 'ERR_OAUTH_UNSUPPORTED_RESPONSE_TYPE',
      status: 400,
      oauthError: 'unsupported_response_type',
      source: 'RFC 6749 §4.1.2.1',
    },
    {
      code: 'ERR_OAUTH_UNSUPPORTED_TOKEN_TYPE',
      status: 400,
      oauthError: 'unsupported_token_type',
      source: 'RFC 7009 §2.2.1',
    },
    { code: 'ERR_OAUTH_INVALID_SCOPE', status: 400, oauthError: 'invalid_scope', source: 'RFC 6749 §5.2' },
    { code: 'ERR_OAUTH_INVALID_TARGET', status: 400, oauthError: 'invalid_target', source: 'RFC 8707 §2' },
    {
      code: 'ERR_OAUTH_INVALID_REQUEST_URI',
      status: 400,
      oauthError: 'invalid_request_uri',
      source: 'RFC 9126 §2.2',
    },
    {
      code: 'ERR_OAUTH_REQUEST_NOT_SUPPORTED',
      status: 400,
      oauthError: 'request_not_supported',
      source: 'OpenID Connect Core §3.1.2.6',
    },
    {
      code: 'ERR_OAUTH_ACCESS_DENIED',
      status: 403,
      oauthError: 'access_denied',
      source: 'RFC 6749 §4.1.2.1',
    },
    {
      code: 'ERR_OAUTH_LOGIN_REQUIRED',
      status: 400,
      oauthError: 'login_required',
      source: 'OpenID Connect Core §3.1.2.6',
    },
    {
      code: 'ERR_OAUTH_CONSENT_REQUIRED',
      status: 400,
      oauthError: 'consent_required',
      source: 'OpenID Connect Core §3.1.2.6',
    },
    { code: 'ERR_OAUTH_USE_DPOP_NONCE', status: 400, oauthError: 'use_dpop_nonce', source: 'RFC 9449 §8' },
    {
      code: 'ERR_OAUTH_INVALID_DPOP_PROOF',
      status: 400,
      oauthError: 'invalid_dpop_proof',
      source: 'RFC 9449 §5',
    },
    { code: 'ERR_OAUTH_SERVER_ERROR', status: 500, oauthError: 'server_error', source: 'RFC 6749 §4.1.2.1' },
    {
      code: 'ERR_OAUTH_TEMPORARILY_UNAVAILABLE',
      status: 503,
      oauthError: 'temporarily_unavailable',
      retryAfterSec: 5,
      source: 'RFC 6749 §4.1.2.1',
    },
    { code: 'ERR_OAUTH_LOGIN_FAILED', status: 401, source: 'login form' },
    { code: 'ERR_OAUTH_ACCOUNT_LOCKED', status: 429, retryAfterSec: 60, source: 'RFC 6585 §4' },
    { code: 'ERR_OAUTH_CSRF_INVALID', status: 403, source: 'login form' },
    { code: 'ERR_STORE_UNAVAILABLE', status: 503, retryAfterSec: 5, source: 'RFC 9110 §15.6.4' },
    { code: 'ERR_STORE_CORRUPT', status: 500, source: 'RFC 9110 §15.6.1' },
    { code: 'ERR_STORE_MIGRATION_FAILED', status: 500, source: 'RFC 9110 §15.6.1' },
  ];

  it.each(cases)('$code -> $status $oauthError ($source)', ({ code, status, oauthError, retryAfterSec }) => {
    const info: ErrorCodeInfo = ERROR_CODES[code];
    expect(info.status).toBe(status);
    expect(info.oauthError).toBe(oauthError);
    expect(info.retryAfterSec).toBe(retryAfterSec);
  });
});

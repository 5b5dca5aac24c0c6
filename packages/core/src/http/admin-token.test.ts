import { describe, expect, it } from 'vitest';
import {
  adminTokenMatches,
  bearerTokenOf,
  checkAdminCredential,
  MIN_ADMIN_TOKEN_LENGTH,
} from './admin-token.js';

describe('adminTokenMatches', () => {
  const configured = 'a'.repeat(MIN_ADMIN_TOKEN_LENGTH);
  it.each([
    [configured, true],
    [`${configured}a`, false],
    ['a'.repeat(MIN_ADMIN_TOKEN_LENGTH - 1), false],
    ['', false],
    ['b'.repeat(MIN_ADMIN_TOKEN_LENGTH), false],
  ])('%s → %s', (presented, expected) => {
    expect(adminTokenMatches(presented, configured)).toBe(expected);
  });
});

describe('bearerTokenOf', () => {
  it.each([
    [undefined, undefined],
    ['Bearer abc.DEF-_~+/=', 'abc.DEF-_~+/='],
    ['bearer abc', 'abc'],
    ['BEARER  abc ', 'abc'],
    ['Basic abc', undefined],
    ['Bearer', undefined],
    ['Bearer a b', undefined],
    ['Bearer "abc"', undefined],
  ])('%s → %s', (header, expected) => {
    expect(bearerTokenOf(header)).toBe(expected);
  });
});

describe('checkAdminCredential', () => {
  const configured = 'c'.repeat(MIN_ADMIN_TOKEN_LENGTH);

  it('allows the configured bearer token', () => {
    expect(checkAdminCredential(`Bearer ${configured}`, configured)).toEqual({ ok: true });
  });

  it('answers 503 when no token is configured, whatever is presented (never a default)', () => {
    const check = checkAdminCredential(`Bearer ${configured}`, undefined);
    expect(check.ok).toBe(false);
    if (!check.ok) {
      expect(check.response.status).toBe(503);
      expect(check.reason).toBeUndefined();
    }
  });

  it.each([
    [undefined, 'missing_token', 'Bearer realm="gatehouse-admin"'],
    ['Bearer wrong', 'invalid_token', 'Bearer realm="gatehouse-admin", error="invalid_token"'],
    [`Basic ${configured}`, 'invalid_token', 'Bearer realm="gatehouse-admin", error="invalid_token"'],
  ])('refuses %s with 401 (%s)', (authorization, reason, challenge) => {
    const check = checkAdminCredential(authorization, configured);
    expect(check.ok).toBe(false);
    if (!check.ok) {
      expect(check.reason).toBe(reason);
      expect(check.response.status).toBe(401);
      expect(check.response.headers['www-authenticate']).toBe(challenge);
    }
  });
});

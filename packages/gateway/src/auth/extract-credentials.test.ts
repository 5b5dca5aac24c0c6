import { describe, expect, it } from 'vitest';
import {
  MAX_TOKEN_LENGTH,
  collectAuthHeaders,
  extractCredentials,
  looksLikeJwt,
} from './extract-credentials.js';

describe('extractCredentials (RFC 6750 §2.1, RFC 9449 §7.1)', () => {
  it.each([
    ['Bearer abc', 'Bearer', 'abc'],
    ['bearer abc', 'Bearer', 'abc'],
    ['BEARER abc', 'Bearer', 'abc'],
    ['DPoP abc', 'DPoP', 'abc'],
    ['dpop abc', 'DPoP', 'abc'],
    ['Bearer  abc', 'Bearer', 'abc'],
    ['Bearer a-b.c_d~e+f/g==', 'Bearer', 'a-b.c_d~e+f/g=='],
  ])('%j → %s %s', (header, scheme, token) => {
    expect(extractCredentials(header)).toEqual({ scheme, token });
  });

  it.each([
    [undefined, 'ERR_OAUTH_TOKEN_MISSING'],
    ['Basic Zm9vOmJhcg==', 'ERR_OAUTH_TOKEN_MISSING'],
    ['Token abc', 'ERR_OAUTH_TOKEN_MISSING'],
    ['Bearerabc', 'ERR_OAUTH_TOKEN_MISSING'],
    ['', 'ERR_OAUTH_INVALID_REQUEST'],
    [' Bearer abc', 'ERR_OAUTH_INVALID_REQUEST'],
    ['Bearer', 'ERR_OAUTH_INVALID_REQUEST'],
    ['Bearer ', 'ERR_OAUTH_INVALID_REQUEST'],
    ['Bearer\tabc', 'ERR_OAUTH_INVALID_REQUEST'],
    ['Bearer abc def', 'ERR_OAUTH_INVALID_REQUEST'],
    ['Bearer abc ', 'ERR_OAUTH_INVALID_REQUEST'],
    ['Bearer "abc"', 'ERR_OAUTH_INVALID_REQUEST'],
    ['Bearer a=b', 'ERR_OAUTH_INVALID_REQUEST'],
    ['Bearer abc, Bearer def', 'ERR_OAUTH_INVALID_REQUEST'],
    ['Basic Zm9v, Bearer abc', 'ERR_OAUTH_INVALID_REQUEST'],
    ['Bearer abc\r\nX: y', 'ERR_OAUTH_INVALID_REQUEST'],
  ])('%j → %s', (header, code) => {
    expect(() => extractCredentials(header)).toThrow(expect.objectContaining({ code }));
  });

  it('refuses a token longer than MAX_TOKEN_LENGTH, before or after parsing', () => {
    for (const length of [MAX_TOKEN_LENGTH + 1, MAX_TOKEN_LENGTH + 100]) {
      expect(() => extractCredentials(`Bearer ${'a'.repeat(length)}`)).toThrow(
        expect.objectContaining({ code: 'ERR_JWT_TOO_LARGE' }),
      );
    }
    expect(extractCredentials(`Bearer ${'a'.repeat(MAX_TOKEN_LENGTH)}`).token).toHaveLength(MAX_TOKEN_LENGTH);
  });
});

describe('collectAuthHeaders', () => {
  it('reads Authorization and DPoP whatever their case, ignoring the rest', () => {
    expect(
      collectAuthHeaders(['Host', 'x', 'AUTHORIZATION', 'Bearer a', 'dPoP', 'proof', 'Authorisation', 'z']),
    ).toEqual({
      authorization: 'Bearer a',
      dpop: 'proof',
    });
    expect(collectAuthHeaders([])).toEqual({ authorization: undefined, dpop: undefined });
  });

  it('joins repeated fields so that they are refused (Node keeps only the first Authorization)', () => {
    const { authorization, dpop } = collectAuthHeaders([
      'authorization',
      'Bearer a',
      'DPoP',
      'p1',
      'Authorization',
      'Bearer b',
      'dpop',
      'p2',
    ]);
    expect(authorization).toBe('Bearer a, Bearer b');
    expect(dpop).toBe('p1, p2');
    expect(() => extractCredentials(authorization)).toThrow(
      expect.objectContaining({ code: 'ERR_OAUTH_INVALID_REQUEST' }),
    );
  });
});

describe('looksLikeJwt', () => {
  it.each([
    ['a.b.c', true],
    ['a.b.', true],
    ['..', true],
    ['abc', false],
    ['a.b', false],
    ['a.b.c.d.e', false],
    ['a.b.c.', false],
  ])('%j → %s', (token, expected) => {
    expect(looksLikeJwt(token)).toBe(expected);
  });
});

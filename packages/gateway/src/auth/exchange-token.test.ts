import { describe, expect, it } from 'vitest';
import { ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE, parseExchange, targetParameter } from './exchange-token.js';

const segment = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (
  claims: Record<string, unknown>,
  header: Record<string, unknown> = { alg: 'ES256', kid: 'k1' },
) => `${segment(header)}.${segment(claims)}.c2ln`;
const NOW = 1_000_000_000;

describe('parseExchange (RFC 8693 §2.2)', () => {
  const answer = (overrides: Record<string, unknown> = {}) => ({
    access_token: jwt({ exp: NOW / 1000 + 60, scope: 'a b', jti: 'child' }),
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: 'Bearer',
    expires_in: 60,
    ...overrides,
  });

  it('reads the internal JWT: expiry, scopes, jti and kid', () => {
    const result = parseExchange(200, answer(), NOW);
    expect(result).toMatchObject({
      ok: true,
      expiresAtMs: NOW + 60_000,
      scopes: new Set(['a', 'b']),
      jti: 'child',
      kid: 'k1',
    });
  });

  it('takes the earlier of exp and expires_in; either alone is enough', () => {
    expect(parseExchange(200, answer({ expires_in: 30 }), NOW)).toMatchObject({ expiresAtMs: NOW + 30_000 });
    expect(parseExchange(200, answer({ expires_in: undefined }), NOW)).toMatchObject({
      expiresAtMs: NOW + 60_000,
    });
    expect(
      parseExchange(
        200,
        answer({
          access_token: jwt({}, {}),
          expires_in: 10,
          issued_token_type: JWT_TOKEN_TYPE,
          token_type: 'bearer',
        }),
        NOW,
      ),
    ).toMatchObject({ expiresAtMs: NOW + 10_000, scopes: new Set(), jti: undefined, kid: undefined });
  });

  it.each(['invalid_grant', 'invalid_target'])('400 %s: refused for this token', (error) => {
    expect(parseExchange(400, { error }, NOW)).toEqual({ ok: false, error });
  });

  it.each([
    ['400 invalid_request (misconfigured gateway)', 400, { error: 'invalid_request' }],
    ['400 without an error', 400, 'x'],
    ['401 invalid_client', 401, { error: 'invalid_client' }],
    ['500', 500, {}],
    ['no body', 200, undefined],
    ['opaque access_token', 200, answer({ access_token: 'opaque' })],
    ['DPoP token_type', 200, answer({ token_type: 'DPoP' })],
    ['no token_type', 200, answer({ token_type: undefined })],
    [
      'refresh token issued',
      200,
      answer({ issued_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }),
    ],
    ['payload not JSON', 200, answer({ access_token: 'eyJ9.bm90IGpzb24.c2ln' })],
    ['payload an array', 200, answer({ access_token: `${segment({})}.${segment([])}.c2ln` })],
    ['no expiry at all', 200, answer({ access_token: jwt({}), expires_in: undefined })],
  ])('%s → unavailable', (_name, status, body) => {
    expect(() => parseExchange(status, body, NOW)).toThrow(
      expect.objectContaining({ code: 'ERR_GATEWAY_AUTH_UNAVAILABLE' }),
    );
  });
});

describe('targetParameter', () => {
  it.each([
    ['https://accounts.internal', 'resource'],
    ['urn:gatehouse:accounts', 'resource'],
    ['accounts', 'audience'],
    ['https://accounts.internal#x', 'audience'],
    ['https://accounts.internal#', 'audience'],
  ])('%s → %s', (audience, parameter) => {
    expect(targetParameter(audience)).toBe(parameter);
  });
});

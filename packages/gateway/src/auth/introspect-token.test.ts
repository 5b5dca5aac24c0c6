import { describe, expect, it } from 'vitest';
import { parseIntrospection } from './introspect-token.js';

const ISSUER = 'https://auth.example';

describe('parseIntrospection (RFC 7662 §2.2)', () => {
  it('reads an active access token', () => {
    expect(
      parseIntrospection(
        {
          active: true,
          scope: 'a b  c',
          client_id: 'app',
          sub: 'alice',
          aud: 'https://api.example',
          exp: 2000,
          iat: 1000,
          iss: ISSUER,
          jti: 'j1',
          sid: 's1',
          token_type: 'DPoP',
          cnf: { jkt: 'thumb', 'x5t#S256': 'cert' },
        },
        ISSUER,
      ),
    ).toEqual({
      active: true,
      sub: 'alice',
      clientId: 'app',
      scopes: new Set(['a', 'b', 'c']),
      exp: 2000,
      iat: 1000,
      jti: 'j1',
      sid: 's1',
      aud: ['https://api.example'],
      jkt: 'thumb',
      x5t: 'cert',
    });
  });

  it('minimal active answer: every member optional but active', () => {
    expect(parseIntrospection({ active: true, aud: ['x', 'y'], token_type: 'bearer' }, ISSUER)).toMatchObject(
      {
        active: true,
        scopes: new Set(),
        aud: ['x', 'y'],
        sub: undefined,
        exp: undefined,
        jkt: undefined,
      },
    );
  });

  it.each([
    [{ active: false }],
    [{ active: 'true' }],
    [{ active: 1 }],
    [{}],
    [{ active: true, token_type: 'refresh_token' }],
    [{ active: true, token_type: 'N_A' }],
  ])('inactive: %j', (answer) => {
    expect(parseIntrospection(answer, ISSUER)).toEqual({ active: false });
  });

  it.each([
    ['not an object', 'active'],
    ['an array', []],
    ['null', null],
    ['another issuer', { active: true, iss: 'https://evil.example' }],
    ['scope not a string', { active: true, scope: ['a'] }],
    ['exp not a number', { active: true, exp: '2000' }],
    ['exp not finite', { active: true, exp: Number.NaN }],
    ['aud of numbers', { active: true, aud: [1] }],
    ['aud an object', { active: true, aud: {} }],
    ['cnf not an object', { active: true, cnf: 'x' }],
    ['cnf null', { active: true, cnf: null }],
    ['jkt not a string', { active: true, cnf: { jkt: 1 } }],
    ['DPoP without jkt', { active: true, token_type: 'DPoP' }],
  ])('a misbehaving server (%s) is unavailability, never acceptance', (_name, answer) => {
    expect(() => parseIntrospection(answer, ISSUER)).toThrow(
      expect.objectContaining({ code: 'ERR_GATEWAY_AUTH_UNAVAILABLE' }),
    );
  });
});

import { describe, expect, it } from 'vitest';
import { buildWwwAuthenticate, type ChallengeOptions } from './www-authenticate.js';

describe('buildWwwAuthenticate', () => {
  const valid: Array<{ name: string; options: ChallengeOptions; expected: string }> = [
    { name: 'bare Bearer scheme', options: { scheme: 'Bearer' }, expected: 'Bearer' },
    { name: 'bare DPoP scheme', options: { scheme: 'DPoP' }, expected: 'DPoP' },
    {
      name: 'realm only',
      options: { scheme: 'Bearer', realm: 'example' },
      expected: 'Bearer realm="example"',
    },
    {
      name: 'empty realm is still quoted',
      options: { scheme: 'Bearer', realm: '' },
      expected: 'Bearer realm=""',
    },
    {
      name: 'realm escapes DQUOTE and backslash (RFC 9110 §5.6.4)',
      options: { scheme: 'Bearer', realm: 'a"b\\c' },
      expected: 'Bearer realm="a\\"b\\\\c"',
    },
    {
      name: 'realm keeps HTAB',
      options: { scheme: 'Bearer', realm: 'a\tb' },
      expected: 'Bearer realm="a\tb"',
    },
    {
      name: 'RFC 6750 §3 example with every parameter in order',
      options: {
        scheme: 'Bearer',
        realm: 'example',
        error: 'invalid_token',
        errorDescription: 'The access token expired',
      },
      expected: 'Bearer realm="example", error="invalid_token", error_description="The access token expired"',
    },
    {
      name: 'scopes joined by one space',
      options: { scheme: 'Bearer', error: 'insufficient_scope', scope: ['openid', 'orders:read', 'a!#[]~'] },
      expected: 'Bearer error="insufficient_scope", scope="openid orders:read a!#[]~"',
    },
    { name: 'empty scope list is left out', options: { scheme: 'Bearer', scope: [] }, expected: 'Bearer' },
    {
      name: 'DPoP algs (RFC 9449 §7.1)',
      options: { scheme: 'DPoP', algs: ['ES256', 'EdDSA'] },
      expected: 'DPoP algs="ES256 EdDSA"',
    },
    { name: 'empty algs list is left out', options: { scheme: 'DPoP', algs: [] }, expected: 'DPoP' },
    {
      name: 'error_description may hold spaces and visible ASCII except DQUOTE and backslash',
      options: { scheme: 'Bearer', errorDescription: " !#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~" },
      expected: `Bearer error_description=" !#$%&'()*+,-./09:;<=>?@AZ[]^_\`az{|}~"`,
    },
  ];

  it.each(valid)('$name', ({ options, expected }) => {
    expect(buildWwwAuthenticate(options)).toBe(expected);
  });

  const refused: Array<{ name: string; source: string; options: ChallengeOptions }> = [
    { name: 'NUL in realm', source: 'RFC 9110 §5.6.4', options: { scheme: 'Bearer', realm: 'a\u0000b' } },
    {
      name: 'CR LF in realm',
      source: 'RFC 9110 §5.6.4',
      options: { scheme: 'Bearer', realm: 'a\r\nX-Evil: 1' },
    },
    { name: 'DEL in realm', source: 'RFC 9110 §5.6.4', options: { scheme: 'Bearer', realm: 'a\u007fb' } },
    { name: 'DQUOTE in error', source: 'RFC 6750 §3', options: { scheme: 'Bearer', error: 'a"b' } },
    { name: 'backslash in error', source: 'RFC 6750 §3', options: { scheme: 'Bearer', error: 'a\\b' } },
    {
      name: 'non-ASCII in error',
      source: 'RFC 6750 §3',
      options: { scheme: 'Bearer', error: 'invalid_tokén' },
    },
    {
      name: 'DQUOTE in error_description',
      source: 'RFC 6750 §3',
      options: { scheme: 'Bearer', errorDescription: 'bad "token"' },
    },
    {
      name: 'backslash in error_description',
      source: 'RFC 6750 §3',
      options: { scheme: 'Bearer', errorDescription: 'a\\b' },
    },
    {
      name: 'non-ASCII in error_description',
      source: 'RFC 6750 §3',
      options: { scheme: 'Bearer', errorDescription: 'jeton expiré' },
    },
    {
      name: 'CR LF in error_description (header injection)',
      source: 'RFC 6750 §3',
      options: { scheme: 'Bearer', errorDescription: 'x\r\nSet-Cookie: a=b' },
    },
    {
      name: 'space inside a scope token',
      source: 'RFC 6750 §3',
      options: { scheme: 'Bearer', scope: ['a b'] },
    },
    { name: 'empty scope token', source: 'RFC 6750 §3', options: { scheme: 'Bearer', scope: [''] } },
    { name: 'DQUOTE in a scope token', source: 'RFC 6750 §3', options: { scheme: 'Bearer', scope: ['a"'] } },
    {
      name: 'backslash in a scope token',
      source: 'RFC 6750 §3',
      options: { scheme: 'Bearer', scope: ['a\\'] },
    },
    {
      name: 'non-ASCII scope token',
      source: 'RFC 6750 §3',
      options: { scheme: 'Bearer', scope: ['lire:été'] },
    },
    { name: 'DQUOTE in an alg', source: 'RFC 9449 §7.1', options: { scheme: 'DPoP', algs: ['ES256"'] } },
  ];

  it.each(refused)('refuses $name ($source) with a TypeError', ({ options }) => {
    expect(() => buildWwwAuthenticate(options)).toThrow(TypeError);
  });

  it('names the parameter but never echoes the refused value', () => {
    expect(() => buildWwwAuthenticate({ scheme: 'Bearer', scope: ['SENTINEL"'] })).toThrow(/^scope /);
    try {
      buildWwwAuthenticate({ scheme: 'Bearer', errorDescription: 'SENTINEL"' });
    } catch (err) {
      expect((err as Error).message).not.toContain('SENTINEL');
    }
  });
});

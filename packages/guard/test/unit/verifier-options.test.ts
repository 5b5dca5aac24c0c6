import { GatehouseError } from '@gatehouse/core';
import { describe, expect, it } from 'vitest';
import { createVerifier, type Algorithm, type VerifierOptions } from '../../src/index.js';
import { createTestKey } from '../helpers/keys.js';
import { AUDIENCE, ISSUER } from '../helpers/tokens.js';

const key = createTestKey('ES256');
const JWKS = { keys: [key.publicJwk] };
const SECRET_64 = 'k'.repeat(64);

/** The problems createVerifier lists for `options`, or [] when it accepts them. */
function problemsOf(options: VerifierOptions): string[] {
  try {
    createVerifier(options).close();
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(GatehouseError);
    const error = err as GatehouseError;
    expect(error.code).toBe('ERR_CONFIG_INVALID');
    expect(error.status).toBe(500);
    // The fixed message never carries the configuration; the list is in `detail`, for the operator.
    expect(error.message).toBe('invalid configuration');
    return (error.detail ?? '').split('; ');
  }
}

const base: VerifierOptions = { issuer: ISSUER, audience: AUDIENCE, jwks: JWKS };
const algs = (...names: string[]): readonly Algorithm[] => names as Algorithm[];

interface Case {
  readonly name: string;
  readonly options: VerifierOptions;
  readonly problems: readonly string[];
}

const cases: Case[] = [
  {
    name: 'empty issuer',
    options: { ...base, issuer: '' },
    problems: ['issuer: one or more non-empty strings required'],
  },
  {
    name: 'no issuer in a list',
    options: { ...base, issuer: [] },
    problems: ['issuer: one or more non-empty strings required'],
  },
  {
    name: 'an empty issuer among others',
    options: { ...base, issuer: [ISSUER, ''] },
    problems: ['issuer: one or more non-empty strings required'],
  },
  {
    name: 'issuer missing altogether',
    options: { ...base, issuer: undefined as unknown as string },
    problems: ['issuer: one or more non-empty strings required'],
  },
  {
    name: 'a non-string issuer',
    options: { ...base, issuer: [42] as unknown as string[] },
    problems: ['issuer: one or more non-empty strings required'],
  },
  {
    name: 'empty audience',
    options: { ...base, audience: '' },
    problems: ['audience: one or more non-empty strings required'],
  },
  {
    name: 'no audience',
    options: { ...base, audience: [] },
    problems: ['audience: one or more non-empty strings required'],
  },
  {
    name: 'two key sources',
    options: { ...base, secret: SECRET_64, algorithms: algs('HS256') },
    problems: ['exactly one of jwksUri, jwks and secret is required'],
  },
  {
    name: 'no key source',
    options: { issuer: ISSUER, audience: AUDIENCE },
    problems: ['exactly one of jwksUri, jwks and secret is required'],
  },
  {
    name: 'jwksUri over plain HTTP off loopback',
    options: { issuer: ISSUER, audience: AUDIENCE, jwksUri: 'http://auth.example/jwks', prewarm: false },
    problems: ['jwksUri: must be https (plain http only on loopback)'],
  },
  {
    name: 'jwksUri that is not a URL',
    options: { issuer: ISSUER, audience: AUDIENCE, jwksUri: 'not a url', prewarm: false },
    problems: ['jwksUri: must be https (plain http only on loopback)'],
  },
  {
    name: 'jwks without a keys array',
    options: { ...base, jwks: { keys: 'nope' } as unknown as { keys: unknown[] } },
    problems: ['jwks: keys array required'],
  },
  {
    name: 'empty algorithm list',
    options: { ...base, algorithms: [] },
    problems: ['algorithms: at least one required'],
  },
  {
    name: 'unknown algorithm',
    options: { ...base, algorithms: algs('ES256', 'RS1') },
    problems: ['algorithms: RS1 is not supported'],
  },
  {
    // RFC 8725 §3.1: an unsecured JWS can never be allowed.
    name: "'none' in the allowlist",
    options: { ...base, algorithms: algs('none') },
    problems: ['algorithms: none is not supported'],
  },
  {
    name: 'an algorithm that is not a string',
    options: { ...base, algorithms: [7] as unknown as Algorithm[] },
    problems: ['algorithms: 7 is not supported'],
  },
  {
    // RFC 8725 §2.1: HMAC against public keys is the key-confusion attack.
    name: 'HMAC algorithm with a key set',
    options: { ...base, algorithms: algs('ES256', 'HS256') },
    problems: ['algorithms: HS256 needs a secret'],
  },
  {
    name: 'asymmetric algorithm with a secret',
    options: { issuer: ISSUER, audience: AUDIENCE, secret: SECRET_64, algorithms: algs('HS256', 'RS256') },
    problems: ['algorithms: RS256 cannot be mixed with a secret'],
  },
  {
    name: 'secret with the default (asymmetric) algorithms is caught',
    options: { issuer: ISSUER, audience: AUDIENCE, secret: SECRET_64, algorithms: algs('ES256') },
    problems: ['algorithms: ES256 cannot be mixed with a secret'],
  },
  {
    // RFC 7518 §3.2: the key is at least as long as the hash output.
    name: 'HS256 secret of 31 bytes',
    options: { issuer: ISSUER, audience: AUDIENCE, secret: 's'.repeat(31), algorithms: algs('HS256') },
    problems: ['secret: at least 32 bytes required'],
  },
  {
    name: 'HS512 secret of 48 bytes',
    options: {
      issuer: ISSUER,
      audience: AUDIENCE,
      secret: new Uint8Array(48),
      algorithms: algs('HS256', 'HS512'),
    },
    problems: ['secret: at least 64 bytes required'],
  },
  {
    name: 'default HS256 with a 16-byte secret',
    options: { issuer: ISSUER, audience: AUDIENCE, secret: new Uint8Array(16) },
    problems: ['secret: at least 32 bytes required'],
  },
  {
    // Multi-byte characters count as bytes, not characters.
    name: 'HS256 secret of 16 two-byte characters',
    options: { issuer: ISSUER, audience: AUDIENCE, secret: 'é'.repeat(15), algorithms: algs('HS256') },
    problems: ['secret: at least 32 bytes required'],
  },
  {
    name: "typ ''",
    options: { ...base, typ: '' },
    problems: ['typ: a media type or null'],
  },
  {
    name: 'typ that is not a string',
    options: { ...base, typ: 1 as unknown as string },
    problems: ['typ: a media type or null'],
  },
  {
    name: 'negative clock tolerance',
    options: { ...base, clockToleranceSec: -1 },
    problems: ['clockToleranceSec: a non-negative number'],
  },
  {
    name: 'NaN token age and infinite token size',
    options: { ...base, maxTokenAgeSec: Number.NaN, maxTokenBytes: Number.POSITIVE_INFINITY },
    problems: ['maxTokenAgeSec: a non-negative number', 'maxTokenBytes: a non-negative number'],
  },
  {
    name: 'cache.maxEntries 0',
    options: { ...base, cache: { maxEntries: 0 } },
    problems: ['cache.maxEntries: a positive integer'],
  },
  {
    name: 'cache.maxEntries 1.5',
    options: { ...base, cache: { maxEntries: 1.5 } },
    problems: ['cache.maxEntries: a positive integer'],
  },
];

describe('createVerifier — option validation', () => {
  it.each(cases)('refuses $name with ERR_CONFIG_INVALID', ({ options, problems }) => {
    expect(problemsOf(options)).toEqual(problems);
  });

  it('lists every problem at once', () => {
    const problems = problemsOf({
      issuer: '',
      audience: [],
      jwks: JWKS,
      secret: 'short',
      algorithms: algs('none', 'HS256', 'RS256'),
      typ: '',
      clockToleranceSec: -5,
      maxTokenAgeSec: -1,
      maxTokenBytes: -1,
      cache: { maxEntries: 0 },
    });
    expect(problems).toEqual([
      'issuer: one or more non-empty strings required',
      'audience: one or more non-empty strings required',
      'exactly one of jwksUri, jwks and secret is required',
      'algorithms: none is not supported',
      'algorithms: RS256 cannot be mixed with a secret',
      'secret: at least 32 bytes required',
      'typ: a media type or null',
      'clockToleranceSec: a non-negative number',
      'maxTokenAgeSec: a non-negative number',
      'maxTokenBytes: a non-negative number',
      'cache.maxEntries: a positive integer',
    ]);
  });

  const accepted: Array<{ name: string; options: VerifierOptions }> = [
    { name: 'a static key set with defaults', options: base },
    {
      name: 'several issuers and audiences',
      options: { ...base, issuer: [ISSUER, 'b'], audience: [AUDIENCE, 'c'] },
    },
    { name: 'typ null (check disabled)', options: { ...base, typ: null } },
    { name: 'a custom typ', options: { ...base, typ: 'application/at+jwt' } },
    { name: 'cache disabled', options: { ...base, cache: false } },
    { name: 'a cache of one entry', options: { ...base, cache: { maxEntries: 1 } } },
    {
      name: 'zero tolerance and zero-sized limits',
      options: { ...base, clockToleranceSec: 0, maxTokenBytes: 0 },
    },
    {
      name: 'a 32-byte HS256 secret',
      options: { issuer: ISSUER, audience: AUDIENCE, secret: 's'.repeat(32) },
    },
    {
      name: 'an https jwksUri without prewarm',
      options: { issuer: ISSUER, audience: AUDIENCE, jwksUri: 'https://auth.example/jwks', prewarm: false },
    },
    {
      name: 'a loopback http jwksUri without prewarm',
      options: { issuer: ISSUER, audience: AUDIENCE, jwksUri: 'http://127.0.0.1:9/jwks', prewarm: false },
    },
  ];

  it.each(accepted)('accepts $name', ({ options }) => {
    expect(problemsOf(options)).toEqual([]);
  });

  it('exposes the allowlist, frozen', () => {
    const verifier = createVerifier(base);
    expect(verifier.algorithms).toEqual(['ES256', 'EdDSA', 'RS256', 'PS256']);
    expect(Object.isFrozen(verifier.algorithms)).toBe(true);
    const hmac = createVerifier({ issuer: ISSUER, audience: AUDIENCE, secret: SECRET_64 });
    expect(hmac.algorithms).toEqual(['HS256']);
  });
});

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  assertUniqueNames,
  expectAccepted,
  expectRefused,
  jwksVerifier,
  secretVerifier,
  titled,
  type AttackCase,
} from '../helpers/attacks.js';
import { createTestKey } from '../helpers/keys.js';
import { b64, forge, signInput, signToken, validClaims } from '../helpers/tokens.js';

// Unsecured JWS (RFC 7518 §3.6): `alg: none` must never verify, whatever the casing, the signature
// segment or the other header members (RFC 8725 §3.1, §2.1).
const es256 = createTestKey('ES256');
const attacker = createTestKey('ES256');
const SECRET = 'a-shared-secret-of-at-least-32-bytes!';
const verifier = jwksVerifier([es256.publicJwk]);
const hmacVerifier = secretVerifier(SECRET, { algorithms: ['HS256'] });

const CASINGS = ['none', 'None', 'NONE', 'nOnE', 'NoNe', 'nONE'] as const;

/** `header.payload` as an attacker would send it, then a signature segment of the attacker's choice. */
function unsecured(header: Record<string, unknown>, signature: (input: string) => Uint8Array): string {
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(validClaims({ sub: 'admin' })))}`;
  return `${input}.${b64(signature(input))}`;
}

const SIGNATURES: readonly { label: string; source: string; sign: (input: string) => Uint8Array }[] = [
  { label: 'empty signature', source: 'RFC 7518 §3.6', sign: () => new Uint8Array() },
  { label: 'random bytes', source: 'RFC 8725 §3.1', sign: () => randomBytes(64) },
  {
    // A signature that is valid for ES256 under the real key must not rescue a `none` header.
    label: 'valid ES256 signature of the issuer key',
    source: 'RFC 8725 §3.1',
    sign: (input) => signInput('ES256', es256.privateKey, input),
  },
  {
    label: 'HS256 tag appended',
    source: 'RFC 8725 §2.1',
    sign: (input) => signInput('HS256', SECRET, input),
  },
];

const header = (alg: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  alg,
  typ: 'at+jwt',
  kid: es256.kid,
  ...extra,
});

const noneCases: AttackCase[] = [
  ...CASINGS.flatMap((alg) =>
    SIGNATURES.map((s) => ({
      name: `alg ${alg}, ${s.label}`,
      source: s.source,
      token: unsecured(header(alg), s.sign),
      code: 'ERR_JWT_ALG_NONE' as const,
    })),
  ),
  {
    name: 'alg none without kid or typ',
    source: 'RFC 7519 §6.1',
    token: unsecured({ alg: 'none' }, () => new Uint8Array()),
    code: 'ERR_JWT_ALG_NONE',
  },
  {
    name: 'alg none with typ JWT (RFC 7519 §6.1 example shape)',
    source: 'RFC 7519 §6.1',
    token: unsecured({ alg: 'none', typ: 'JWT' }, () => new Uint8Array()),
    code: 'ERR_JWT_ALG_NONE',
  },
  {
    name: 'alg none with crit listing a claim',
    source: 'RFC 7515 §4.1.11',
    token: unsecured(header('none', { crit: ['exp'], exp: 1 }), () => new Uint8Array()),
    code: 'ERR_JWT_ALG_NONE',
  },
  {
    name: 'alg none with an embedded jwk',
    source: 'RFC 8725 §3.1',
    token: unsecured(header('none', { jwk: attacker.publicJwk }), () => new Uint8Array()),
    code: 'ERR_JWT_ALG_NONE',
  },
  {
    name: 'alg none with b64 false',
    source: 'RFC 7797 §3',
    token: unsecured(header('none', { b64: false, crit: ['b64'] }), () => new Uint8Array()),
    code: 'ERR_JWT_ALG_NONE',
  },
  {
    name: 'alg none with cty JWT (nested)',
    source: 'RFC 7519 §5.2',
    token: unsecured(header('none', { cty: 'JWT' }), () => new Uint8Array()),
    code: 'ERR_JWT_ALG_NONE',
  },
  {
    name: 'alg none, signature of the attacker key',
    source: 'RFC 8725 §3.1',
    token: unsecured(header('none'), (input) => signInput('ES256', attacker.privateKey, input)),
    code: 'ERR_JWT_ALG_NONE',
  },
  {
    // CVE-2022-23540: jsonwebtoken fell back to `none` when verify() got a falsy key.
    name: 'alg none against an HMAC verifier (falsy-key fallback)',
    source: 'CVE-2022-23540',
    token: unsecured(header('none'), () => new Uint8Array()),
    code: 'ERR_JWT_ALG_NONE',
  },
];

const malformedAlgCases: AttackCase[] = [
  { name: 'alg missing', alg: undefined },
  { name: 'alg null', alg: null },
  { name: 'alg false', alg: false },
  { name: 'alg 0', alg: 0 },
  { name: 'alg array ["none"]', alg: ['none'] },
  { name: 'alg array ["ES256"]', alg: ['ES256'] },
  { name: 'alg object', alg: { name: 'ES256' } },
].map(({ name, alg }) => ({
  name,
  source: 'RFC 7515 §4.1.1',
  token: forge({
    header: alg === undefined ? { typ: 'at+jwt', kid: es256.kid } : header(alg),
    payload: validClaims(),
    signer: { alg: 'ES256', key: es256.privateKey },
  }),
  code: 'ERR_JWT_MALFORMED' as const,
}));

const lookalikeCases: AttackCase[] = [
  { name: 'alg "none " (trailing space)', alg: 'none ' },
  { name: 'alg " none" (leading space)', alg: ' none' },
  { name: 'alg "none\\u0000"', alg: 'none\u0000' },
  { name: 'alg "" (empty)', alg: '' },
  { name: 'alg "nil"', alg: 'nil' },
].map(({ name, alg }) => ({
  name,
  source: 'RFC 8725 §3.1',
  // Not `none`, so not unsecured: an unknown name is simply outside the allowlist.
  token: unsecured(header(alg), () => new Uint8Array()),
  code: 'ERR_JWT_ALG_NOT_ALLOWED' as const,
}));

describe('alg none (RFC 7518 §3.6, RFC 8725 §3.1)', () => {
  it('has unique case names', () => {
    assertUniqueNames([...noneCases, ...malformedAlgCases, ...lookalikeCases]);
  });

  it.each(titled(noneCases))('%s', async (_title, { token, code }) => {
    await expectRefused(verifier, token, code);
  });

  it.each(
    titled(
      noneCases.filter((c) => c.source === 'CVE-2022-23540' || c.name.includes('empty signature')),
      'HMAC verifier: ',
    ),
  )('%s', async (_title, { token, code }) => {
    await expectRefused(hmacVerifier, token, code);
  });

  it.each(titled(malformedAlgCases))('%s', async (_title, { token, code }) => {
    await expectRefused(verifier, token, code);
  });

  it.each(titled(lookalikeCases))('%s', async (_title, { token, code }) => {
    await expectRefused(verifier, token, code);
  });

  it('accepts a valid ES256 token (positive control)', async () => {
    await expectAccepted(verifier, signToken(es256));
  });

  it('accepts a valid HS256 token on the HMAC verifier (positive control)', async () => {
    const token = forge({
      header: { alg: 'HS256', typ: 'at+jwt' },
      payload: validClaims(),
      signer: { alg: 'HS256', key: SECRET },
    });
    await expectAccepted(hmacVerifier, token);
  });

  it('refuses `none` even when the token is otherwise the exact valid token', async () => {
    // Same header members and payload as an accepted token: only `alg` differs.
    const valid = signToken(es256);
    await expectAccepted(verifier, valid);
    const [, payload] = valid.split('.');
    const noneHeader = b64(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: es256.kid }));
    await expectRefused(verifier, `${noneHeader}.${payload ?? ''}.`, 'ERR_JWT_ALG_NONE');
    expect(verifier.algorithms).not.toContain('none');
  });
});

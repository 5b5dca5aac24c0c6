import { describe, expect, it } from 'vitest';
import { createVerifier } from '../../src/index.js';
import {
  assertUniqueNames,
  expectAccepted,
  expectRefused,
  jwksVerifier,
  secretVerifier,
  titled,
  type AttackCase,
} from '../helpers/attacks.js';
import { createTestKey, type TestKey } from '../helpers/keys.js';
import { AUDIENCE, ISSUER, NOW_MS, forge, signToken, validClaims } from '../helpers/tokens.js';

// Algorithm confusion: the token's `alg` must never choose how the verifier's key is used
// (RFC 8725 §2.1, §3.1). Keys below are the issuer's; their public parts are known to everyone.
const rsa = createTestKey('RS256', 'rsa-1');
const ec256 = createTestKey('ES256', 'ec256-1');
const ec384 = createTestKey('ES384', 'ec384-1');
const ed = createTestKey('EdDSA', 'ed-1');
const pss = createTestKey('PS256', 'pss-1');

const ALL_ALGS = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'] as const;
const jwks = [rsa.publicJwk, ec256.publicJwk, ec384.publicJwk, ed.publicJwk, pss.publicJwk];
/** Default allowlist (ES256, EdDSA, RS256, PS256) over all the issuer's keys. */
const verifier = jwksVerifier(jwks);
/** The same keys published without `alg`, so only key type and curve bind them (RFC 7517 §4.4). */
const withoutAlg = (jwk: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(jwk).filter(([name]) => name !== 'alg'));
const typedVerifier = jwksVerifier(jwks, { algorithms: [...ALL_ALGS] });
const untypedVerifier = jwksVerifier(jwks.map(withoutAlg), { algorithms: [...ALL_ALGS] });
const es256Only = jwksVerifier([ec256.publicJwk], { algorithms: ['ES256'] });

// ---------------------------------------------------------------------------------------------
// 1. HS* signed with the public key as the HMAC secret (CVE-2015-9235, CVE-2016-10555).

const pem = (key: TestKey, type: 'spki' | 'pkcs1'): string =>
  key.publicKey.export({ format: 'pem', type }) as string;
const der = (key: TestKey): Buffer => key.publicKey.export({ format: 'der', type: 'spki' });
const member = (key: TestKey, name: string): string => key.publicJwk[name] as string;

/** The OpenSSH public key line of an Ed25519 key (RFC 8709 §4), the format behind CVE-2022-29217. */
function openSsh(key: TestKey): string {
  const name = Buffer.from('ssh-ed25519');
  const raw = Buffer.from(member(key, 'x'), 'base64url');
  const len = (n: number): Buffer => Buffer.from([0, 0, 0, n]);
  return `ssh-ed25519 ${Buffer.concat([len(name.length), name, len(raw.length), raw]).toString('base64')}`;
}

const RSA_ENCODINGS: readonly { label: string; source: string; secret: string | Buffer }[] = [
  { label: 'SPKI PEM', source: 'CVE-2015-9235', secret: pem(rsa, 'spki') },
  {
    label: 'SPKI PEM without trailing newline',
    source: 'CVE-2016-10555',
    secret: pem(rsa, 'spki').trimEnd(),
  },
  {
    label: 'SPKI PEM with CRLF line ends',
    source: 'CVE-2016-10555',
    secret: pem(rsa, 'spki').replaceAll('\n', '\r\n'),
  },
  { label: 'PKCS#1 PEM (BEGIN RSA PUBLIC KEY)', source: 'CVE-2017-11424', secret: pem(rsa, 'pkcs1') },
  { label: 'SPKI DER bytes', source: 'CVE-2022-23541', secret: der(rsa) },
  {
    label: 'PKCS#1 DER bytes',
    source: 'CVE-2022-23541',
    secret: rsa.publicKey.export({ format: 'der', type: 'pkcs1' }),
  },
  { label: 'base64 SPKI DER', source: 'CVE-2022-23541', secret: der(rsa).toString('base64') },
  { label: 'JWK JSON string', source: 'CVE-2022-23541', secret: JSON.stringify(rsa.publicJwk) },
  { label: 'JWK `n` member', source: 'RFC 8725 §2.1', secret: member(rsa, 'n') },
  { label: 'decoded `n` bytes', source: 'RFC 8725 §2.1', secret: Buffer.from(member(rsa, 'n'), 'base64url') },
  { label: 'whole JWKS JSON', source: 'RFC 8725 §2.1', secret: JSON.stringify({ keys: jwks }) },
];

const OTHER_ENCODINGS: readonly { label: string; key: TestKey; source: string; secret: string | Buffer }[] = [
  { label: 'P-256 SPKI PEM', key: ec256, source: 'CVE-2015-9235', secret: pem(ec256, 'spki') },
  { label: 'P-256 SPKI DER', key: ec256, source: 'CVE-2022-23541', secret: der(ec256) },
  {
    label: 'P-256 JWK JSON string',
    key: ec256,
    source: 'CVE-2022-23541',
    secret: JSON.stringify(ec256.publicJwk),
  },
  { label: 'P-256 JWK `x` member', key: ec256, source: 'RFC 8725 §2.1', secret: member(ec256, 'x') },
  {
    label: 'P-256 uncompressed point 04||x||y',
    key: ec256,
    source: 'RFC 8725 §2.1',
    secret: Buffer.concat([
      Buffer.from([4]),
      Buffer.from(member(ec256, 'x'), 'base64url'),
      Buffer.from(member(ec256, 'y'), 'base64url'),
    ]),
  },
  { label: 'Ed25519 SPKI PEM', key: ed, source: 'CVE-2015-9235', secret: pem(ed, 'spki') },
  {
    label: 'Ed25519 raw 32-byte key',
    key: ed,
    source: 'RFC 8725 §2.1',
    secret: Buffer.from(member(ed, 'x'), 'base64url'),
  },
  { label: 'Ed25519 JWK `x` member', key: ed, source: 'RFC 8725 §2.1', secret: member(ed, 'x') },
  { label: 'Ed25519 OpenSSH public key line', key: ed, source: 'CVE-2022-29217', secret: openSsh(ed) },
];

/** An HS* token made exactly as the attacker would: a valid HMAC under the public key bytes. */
function hmacToken(alg: string, secret: string | Buffer, kid: string | undefined): string {
  return forge({
    header: kid === undefined ? { alg, typ: 'at+jwt' } : { alg, typ: 'at+jwt', kid },
    payload: validClaims({ sub: 'admin', roles: ['admin'] }),
    signer: { alg: alg.toUpperCase(), key: secret },
  });
}

const confusionCases: AttackCase[] = [
  ...(['HS256', 'HS384', 'HS512'] as const).flatMap((alg) =>
    RSA_ENCODINGS.map((e) => ({
      name: `${alg} keyed with the RSA ${e.label}`,
      source: e.source,
      token: hmacToken(alg, e.secret, rsa.kid),
      code: 'ERR_JWT_ALG_KEY_CONFUSION' as const,
    })),
  ),
  ...OTHER_ENCODINGS.map((e) => ({
    name: `HS256 keyed with the ${e.label}`,
    source: e.source,
    token: hmacToken('HS256', e.secret, e.key.kid),
    code: 'ERR_JWT_ALG_KEY_CONFUSION' as const,
  })),
  {
    name: 'HS256 keyed with the RSA SPKI PEM, no kid',
    source: 'CVE-2016-10555',
    token: hmacToken('HS256', pem(rsa, 'spki'), undefined),
    code: 'ERR_JWT_ALG_KEY_CONFUSION',
  },
  {
    name: 'lowercase hs256 keyed with the RSA SPKI PEM',
    source: 'RFC 8725 §3.1',
    token: hmacToken('hs256', pem(rsa, 'spki'), rsa.kid),
    code: 'ERR_JWT_ALG_KEY_CONFUSION',
  },
  {
    name: 'HS1 (not a JOSE algorithm) keyed with the RSA SPKI PEM',
    source: 'RFC 8725 §3.1',
    token: forge({
      header: { alg: 'HS1', typ: 'at+jwt', kid: rsa.kid },
      payload: validClaims(),
      signer: { alg: 'HS256', key: pem(rsa, 'spki') },
    }),
    code: 'ERR_JWT_ALG_KEY_CONFUSION',
  },
];

// ---------------------------------------------------------------------------------------------
// 2. Algorithms outside the allowlist (RFC 8725 §3.1: "use only the algorithms it expects").

/** A token claiming `alg`, signed for real with `key` under `signAlg`. */
function claimedAlg(alg: string, key: TestKey, signAlg: string = key.alg): string {
  return forge({
    header: { alg, typ: 'at+jwt', kid: key.kid },
    payload: validClaims(),
    signer: { alg: signAlg, key: key.privateKey },
  });
}

const notAllowedCases: AttackCase[] = [
  { name: 'ES384 when only ES256 is allowed', token: claimedAlg('ES384', ec384) },
  { name: 'ES512 when only ES256 is allowed', token: claimedAlg('ES512', ec384, 'ES384') },
  { name: 'RS256 when only ES256 is allowed', token: claimedAlg('RS256', rsa) },
  { name: 'RS512 when only ES256 is allowed', token: claimedAlg('RS512', rsa, 'RS512') },
  { name: 'PS384 when only ES256 is allowed', token: claimedAlg('PS384', pss, 'PS384') },
  { name: 'EdDSA when only ES256 is allowed', token: claimedAlg('EdDSA', ed) },
  { name: 'Ed25519 when only ES256 is allowed', token: claimedAlg('Ed25519', ed) },
  { name: 'lowercase es256 with a valid ES256 signature', token: claimedAlg('es256', ec256) },
  { name: '"ES256 " (trailing space) with a valid signature', token: claimedAlg('ES256 ', ec256) },
  { name: '" ES256" (leading space) with a valid signature', token: claimedAlg(' ES256', ec256) },
  { name: '"ES256\\u0000" with a valid signature', token: claimedAlg('ES256\u0000', ec256) },
  { name: 'fullwidth "ＥＳ２５６" with a valid signature', token: claimedAlg('ＥＳ２５６', ec256) },
  { name: 'ES256K (secp256k1, RFC 8812)', token: claimedAlg('ES256K', ec256) },
  { name: 'RSA-OAEP (a JWE key-management alg)', token: claimedAlg('RSA-OAEP', rsa) },
  { name: 'dir (a JWE key-management alg)', token: claimedAlg('dir', ec256) },
  { name: 'A256KW (a JWE key-management alg)', token: claimedAlg('A256KW', ec256) },
  { name: 'RS1 (SHA-1, never registered for JWS)', token: claimedAlg('RS1', rsa) },
  { name: '__proto__ as alg', token: claimedAlg('__proto__', ec256) },
  { name: 'toString as alg', token: claimedAlg('toString', ec256) },
].map(({ name, token }) => ({
  name,
  source: name.includes('JWE') ? 'RFC 7518 §4.1' : 'RFC 8725 §3.1',
  token,
  code: 'ERR_JWT_ALG_NOT_ALLOWED' as const,
}));

const defaultAllowlistCases: AttackCase[] = [
  { name: 'RS384 outside the default allowlist', token: claimedAlg('RS384', rsa, 'RS384') },
  { name: 'RS512 outside the default allowlist', token: claimedAlg('RS512', rsa, 'RS512') },
  { name: 'PS512 outside the default allowlist', token: claimedAlg('PS512', pss, 'PS512') },
  { name: 'ES384 outside the default allowlist', token: claimedAlg('ES384', ec384) },
].map(({ name, token }) => ({
  name,
  source: 'RFC 8725 §3.2',
  token,
  code: 'ERR_JWT_ALG_NOT_ALLOWED' as const,
}));

// ---------------------------------------------------------------------------------------------
// 3. A kid that names a key of another type or curve (RFC 8725 §3.1: the key decides the family).

function pointedAt(alg: string, signer: TestKey, target: TestKey): string {
  return forge({
    header: { alg, typ: 'at+jwt', kid: target.kid },
    payload: validClaims(),
    signer: { alg, key: signer.privateKey },
  });
}

const attackerRsa = createTestKey('RS256');
const attackerEc256 = createTestKey('ES256');
const attackerEd = createTestKey('EdDSA');

const mismatchRows = [
  { name: 'RS256 token, kid -> P-256 key', token: pointedAt('RS256', attackerRsa, ec256) },
  { name: 'RS256 token, kid -> Ed25519 key', token: pointedAt('RS256', attackerRsa, ed) },
  { name: 'PS256 token, kid -> P-256 key', token: pointedAt('PS256', attackerRsa, ec256) },
  { name: 'ES256 token, kid -> P-384 key', token: pointedAt('ES256', attackerEc256, ec384) },
  { name: 'ES384 token, kid -> P-256 key', token: pointedAt('ES384', ec384, ec256) },
  { name: 'ES256 token, kid -> RSA key', token: pointedAt('ES256', attackerEc256, rsa) },
  { name: 'ES256 token, kid -> Ed25519 key', token: pointedAt('ES256', attackerEc256, ed) },
  { name: 'EdDSA token, kid -> P-256 key', token: pointedAt('EdDSA', attackerEd, ec256) },
  { name: 'EdDSA token, kid -> RSA key', token: pointedAt('EdDSA', attackerEd, rsa) },
] as const;

const mismatchCases: AttackCase[] = mismatchRows.map(({ name, token }) => ({
  name,
  source: 'RFC 8725 §3.1',
  token,
  code: 'ERR_JWT_KEY_TYPE_MISMATCH',
}));

// RFC 7517 §4.4: a JWK with `alg` is for that algorithm only, so one RSA key is not both RS and PS.
const jwkAlgCases: AttackCase[] = [
  {
    name: 'PS256 token, kid -> RSA key published with alg RS256',
    source: 'RFC 7517 §4.4',
    token: claimedAlg('PS256', rsa, 'PS256'),
    code: 'ERR_JWT_KEY_TYPE_MISMATCH',
  },
  {
    name: 'RS256 token, kid -> RSA key published with alg PS256',
    source: 'RFC 7517 §4.4',
    token: claimedAlg('RS256', pss, 'RS256'),
    code: 'ERR_JWT_KEY_TYPE_MISMATCH',
  },
];

// ---------------------------------------------------------------------------------------------
// 4. A verifier in secret mode never accepts an asymmetric algorithm (RFC 8725 §3.1).

const SECRET = 'shared-secret-with-32-bytes-or-more!!';
const hmac = secretVerifier(SECRET, { algorithms: ['HS256'] });

const secretModeCases: AttackCase[] = [
  { name: 'RS256 token to an HS256 verifier', token: claimedAlg('RS256', rsa) },
  { name: 'PS256 token to an HS256 verifier', token: claimedAlg('PS256', pss) },
  { name: 'ES256 token to an HS256 verifier', token: claimedAlg('ES256', ec256) },
  { name: 'EdDSA token to an HS256 verifier', token: claimedAlg('EdDSA', ed) },
  {
    name: 'HS512 token (valid tag) to an HS256-only verifier',
    token: forge({
      header: { alg: 'HS512', typ: 'at+jwt' },
      payload: validClaims(),
      signer: { alg: 'HS512', key: SECRET },
    }),
  },
  {
    name: 'lowercase hs256 (valid tag) to an HS256 verifier',
    token: forge({
      header: { alg: 'hs256', typ: 'at+jwt' },
      payload: validClaims(),
      signer: { alg: 'HS256', key: SECRET },
    }),
  },
].map(({ name, token }) => ({
  name,
  source: 'RFC 8725 §3.1',
  token,
  code: 'ERR_JWT_ALG_NOT_ALLOWED' as const,
}));

describe('algorithm confusion (RFC 8725 §2.1, §3.1)', () => {
  it('has unique case names', () => {
    assertUniqueNames([
      ...confusionCases,
      ...notAllowedCases,
      ...defaultAllowlistCases,
      ...mismatchCases,
      ...jwkAlgCases,
      ...secretModeCases,
    ]);
  });

  describe('HS* keyed with the public key', () => {
    it.each(titled(confusionCases))('%s', async (_title, { token, code }) => {
      await expectRefused(verifier, token, code);
    });

    it('refuses HS* at configuration time next to a key set', () => {
      // RFC 8725 §3.1: a verifier with asymmetric keys can never be told to run HMAC.
      expect(() =>
        createVerifier({
          issuer: ISSUER,
          audience: AUDIENCE,
          jwks: { keys: jwks },
          algorithms: ['RS256', 'HS256'],
          now: () => NOW_MS,
        }),
      ).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
    });
  });

  describe('algorithm allowlist', () => {
    it.each(titled(notAllowedCases, 'ES256-only: '))('%s', async (_title, { token, code }) => {
      await expectRefused(es256Only, token, code);
    });

    it.each(titled(defaultAllowlistCases, 'default: '))('%s', async (_title, { token, code }) => {
      await expectRefused(verifier, token, code);
    });

    it('accepts ES256 on the ES256-only verifier (positive control)', async () => {
      await expectAccepted(es256Only, signToken(ec256));
    });
  });

  describe('key type and curve bound to the algorithm', () => {
    it.each(titled(mismatchCases, 'alg-bound JWKs: '))('%s', async (_title, { token, code }) => {
      await expectRefused(typedVerifier, token, code);
    });

    it.each(titled(mismatchCases, 'JWKs without alg: '))('%s', async (_title, { token, code }) => {
      await expectRefused(untypedVerifier, token, code);
    });

    it.each(titled(jwkAlgCases))('%s', async (_title, { token, code }) => {
      await expectRefused(typedVerifier, token, code);
    });

    it.each([rsa, ec256, ec384, ed, pss])('accepts $alg with its own key (positive control)', async (key) => {
      await expectAccepted(typedVerifier, signToken(key));
      await expectAccepted(untypedVerifier, signToken(key));
    });

    it('accepts PS256 with an RSA key published without alg (positive control)', async () => {
      await expectAccepted(untypedVerifier, claimedAlg('PS256', rsa, 'PS256'));
    });
  });

  describe('secret mode', () => {
    it.each(titled(secretModeCases))('%s', async (_title, { token, code }) => {
      await expectRefused(hmac, token, code);
    });

    it('accepts a valid HS256 token (positive control)', async () => {
      const token = forge({
        header: { alg: 'HS256', typ: 'at+jwt' },
        payload: validClaims(),
        signer: { alg: 'HS256', key: SECRET },
      });
      await expectAccepted(hmac, token);
    });
  });
});

import { describe, it } from 'vitest';
import {
  assertUniqueNames,
  expectAccepted,
  expectRefused,
  jwksVerifier,
  titled,
  type AttackCase,
} from '../helpers/attacks.js';
import { createTestKey, type TestKey } from '../helpers/keys.js';
import { b64, forge, signToken, validClaims } from '../helpers/tokens.js';

// The JOSE header is attacker-controlled input (RFC 8725 §3.10). Each row changes one header member
// of an otherwise valid token; rows that need a signature carry one the attacker can really make.
const issuerKey = createTestKey('ES256', 'k1');
const longKid = 'k'.repeat(256);
const spacedKid = 'key 1';
const longKey = createTestKey('ES256', longKid);
const spacedKey = createTestKey('ES256', spacedKid);
const verifier = jwksVerifier([issuerKey.publicJwk, longKey.publicJwk, spacedKey.publicJwk]);
const attacker = createTestKey('ES256', 'k1');
const attackerRsa = createTestKey('RS256', 'k1');

/** A token with the issuer's usual header plus `extra` (a member set to undefined is removed). */
function token(extra: Record<string, unknown>, signer: TestKey = attacker): string {
  const all: Record<string, unknown> = { alg: signer.alg, typ: 'at+jwt', kid: 'k1', ...extra };
  const header = Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined));
  return forge({
    header,
    payload: validClaims(),
    signer: { alg: signer.alg, key: signer.privateKey },
  });
}

type Row = Omit<AttackCase, 'code'>;
const rows = (code: AttackCase['code'], list: readonly Row[]): AttackCase[] =>
  list.map((r) => ({ ...r, code }));

// --- RFC 7515 §4.1.2-4.1.6: keys and key locations in the header are never used (RFC 8725 §3.10).
const keyHeaderCases = rows('ERR_JWT_HEADER_KEY_FORBIDDEN', [
  {
    name: 'jwk: attacker EC key that verifies the signature',
    source: 'CVE-2018-0114',
    token: token({ jwk: attacker.publicJwk }),
  },
  {
    name: 'jwk: attacker EC key, no kid',
    source: 'CVE-2018-0114',
    token: token({ jwk: attacker.publicJwk, kid: undefined }),
  },
  {
    name: 'jwk: attacker RSA key with RS256',
    source: 'CVE-2018-0114',
    token: token({ jwk: attackerRsa.publicJwk }, attackerRsa),
  },
  {
    name: 'jwk: the issuer public key itself',
    source: 'RFC 7515 §4.1.3',
    token: token({ jwk: issuerKey.publicJwk }),
  },
  { name: 'jwk: empty object', source: 'RFC 7515 §4.1.3', token: token({ jwk: {} }) },
  { name: 'jwk: null', source: 'RFC 7515 §4.1.3', token: token({ jwk: null }) },
  {
    name: 'jwk: symmetric key with HS256',
    source: 'RFC 8725 §3.10',
    token: forge({
      header: { alg: 'HS256', typ: 'at+jwt', jwk: { kty: 'oct', k: b64('attacker') } },
      payload: validClaims(),
      signer: { alg: 'HS256', key: 'attacker' },
    }),
  },
  {
    name: 'jku: attacker-hosted key set',
    source: 'RFC 8725 §3.10',
    token: token({ jku: 'https://attacker.example/jwks.json' }),
  },
  {
    name: 'jku: the issuer own JWKS URL',
    source: 'RFC 7515 §4.1.2',
    token: token({ jku: 'https://auth.test.example/.well-known/jwks.json' }),
  },
  {
    name: 'jku: cloud metadata address (SSRF)',
    source: 'RFC 8725 §3.10',
    token: token({ jku: 'http://169.254.169.254/latest/meta-data/' }),
  },
  {
    name: 'jku: issuer URL with userinfo trick',
    source: 'RFC 8725 §3.10',
    token: token({ jku: 'https://auth.test.example@attacker.example/jwks.json' }),
  },
  {
    name: 'x5u: attacker-hosted certificate',
    source: 'RFC 7515 §4.1.5',
    token: token({ x5u: 'https://attacker.example/cert.pem' }),
  },
  { name: 'x5u: file URL', source: 'RFC 8725 §3.10', token: token({ x5u: 'file:///etc/passwd' }) },
  {
    name: 'x5c: attacker key as base64 DER',
    source: 'RFC 7515 §4.1.6',
    token: token({
      x5c: [attacker.publicKey.export({ format: 'der', type: 'spki' }).toString('base64')],
    }),
  },
  { name: 'x5c: empty array', source: 'RFC 7515 §4.1.6', token: token({ x5c: [] }) },
  { name: 'x5c: not an array', source: 'RFC 7515 §4.1.6', token: token({ x5c: 'MIIB' }) },
  {
    name: 'jku and x5u together',
    source: 'RFC 8725 §3.10',
    token: token({ jku: 'https://attacker.example/jwks', x5u: 'https://attacker.example/c' }),
  },
]);

// --- RFC 7515 §4.1.4: kid is a plain string; anything else is refused before any lookup.
const kidInvalidCases = rows(
  'ERR_JWT_KID_INVALID',
  (
    [
      ['kid number', 1],
      ['kid 0', 0],
      ['kid object', { kid: 'k1' }],
      ['kid array', ['k1']],
      ['kid null', null],
      ['kid true', true],
      ['kid false', false],
      ['kid empty string', ''],
      ['kid of 257 characters', 'k'.repeat(257)],
      ['kid of 300 characters', 'k'.repeat(300)],
      ['kid with newline', 'k1\n'],
      ['kid with NUL', 'k1\u0000'],
      ['kid with CR LF (log injection)', 'k1\r\nlevel=admin'],
      ['kid with tab', 'k\t1'],
      ['kid with DEL', 'k1\u007f'],
      ['kid with leading space', ' k1'],
      ['kid with trailing space', 'k1 '],
      ['kid only a space', ' '],
      ['kid with non-ASCII letter', 'k\u00e91'],
      ['kid with right-to-left override', 'k1\u202e'],
      ['kid with zero-width space', 'k\u200b1'],
    ] as const
  ).map(([name, kid]) => ({ name, source: 'RFC 8725 §3.10', token: token({ kid }) })),
);

// --- Plain strings are only map keys: no path, query or command is ever built from them.
const kidLookupCases = rows(
  'ERR_JWKS_NO_MATCHING_KEY',
  (
    [
      ['kid path traversal to /dev/null', '../../../../dev/null'],
      ['kid absolute path', '/etc/passwd'],
      ['kid URL-encoded traversal', '..%2f..%2f..%2fetc%2fpasswd'],
      ['kid SQL injection', "x' UNION SELECT 'key"],
      ['kid SQL comment', "k1' --"],
      ['kid command injection |id', '|id'],
      ['kid command substitution', '$(id)'],
      ['kid backticks', '`id`'],
      ['kid URL', 'http://evil/'],
      ['kid LDAP wildcard', '*'],
      ['kid JNDI lookup string', '${jndi:ldap://evil/a}'],
      ['kid differs only by case', 'K1'],
      ['kid is a prefix of a real kid', 'k'],
      ['kid __proto__', '__proto__'],
      ['kid constructor', 'constructor'],
      ['kid hasOwnProperty', 'hasOwnProperty'],
    ] as const
  ).map(([name, kid]) => ({ name, source: 'RFC 8725 §3.10', token: token({ kid }) })),
);

// --- RFC 7515 §4.1.11: guard implements no extension, so every `crit` is refused.
const critCases = rows(
  'ERR_JWT_CRIT_UNSUPPORTED',
  (
    [
      [
        'crit with an unknown extension',
        { crit: ['http://example.invalid/ext'], 'http://example.invalid/ext': 1 },
      ],
      ['crit listing a claim name', { crit: ['exp'], exp: 1 }],
      ['crit listing a missing member', { crit: ['foo'] }],
      ['crit empty array', { crit: [] }],
      ['crit a string', { crit: 'exp' }],
      ['crit null', { crit: null }],
      ['crit object', { crit: { exp: true } }],
      ['crit containing a number', { crit: [1] }],
      ['crit containing alg', { crit: ['alg'] }],
      ['crit listing b64 with b64 true', { crit: ['b64'], b64: true }],
      ['crit listing b64 without b64', { crit: ['b64'] }],
    ] as const
  ).map(([name, extra]) => ({ name, source: 'RFC 7515 §4.1.11', token: token(extra) })),
);

// --- RFC 7797 §3: an unencoded payload changes what is signed; never accepted.
const b64Cases = rows(
  'ERR_JWT_B64_UNSUPPORTED',
  (
    [
      ['b64 false with crit', { b64: false, crit: ['b64'] }],
      ['b64 false without crit', { b64: false }],
      ['b64 "false" (string)', { b64: 'false' }],
      ['b64 0', { b64: 0 }],
      ['b64 null', { b64: null }],
    ] as const
  ).map(([name, extra]) => ({ name, source: 'RFC 7797 §3', token: token(extra) })),
);

// --- RFC 7519 §5.2 / RFC 8725 §2.8: nested tokens are not accepted.
const nestedCases = rows(
  'ERR_JWT_NESTED_UNSUPPORTED',
  (['JWT', 'jwt', 'application/jwt', 'Application/JWT', 'APPLICATION/jwt'] as const).map((cty) => ({
    name: `cty ${cty}`,
    source: 'RFC 7519 §5.2',
    token: token({ cty }),
  })),
);

// --- RFC 7516: a JWE is never taken for a JWS (RFC 7515 §9 tells them apart).
const jweHeader = b64(JSON.stringify({ alg: 'RSA-OAEP-256', enc: 'A256GCM', typ: 'at+jwt' }));
const jweCases = rows('ERR_JWT_JWE_UNSUPPORTED', [
  {
    name: 'five-segment JWE compact serialization',
    source: 'RFC 7516 §7.1',
    token: [jweHeader, b64('encrypted-key'), b64('iv-iv-iv-iv'), b64('ciphertext'), b64('tag')].join('.'),
  },
  {
    name: 'five-segment dir JWE (empty encrypted key)',
    source: 'RFC 7516 §7.1',
    token: [b64(JSON.stringify({ alg: 'dir', enc: 'A128GCM' })), '', b64('iv'), b64('ct'), b64('tag')].join(
      '.',
    ),
  },
  { name: 'five empty segments', source: 'RFC 7515 §9', token: '....' },
  {
    name: 'enc header squeezed into three segments',
    source: 'RFC 7515 §9',
    token: token({ enc: 'A256GCM' }),
  },
  {
    name: 'enc header with alg dir in three segments',
    source: 'RFC 7516 §4.1.2',
    token: forge({ header: { alg: 'dir', enc: 'A128CBC-HS256' }, payload: validClaims() }),
  },
  {
    name: 'enc header with alg none in three segments',
    source: 'RFC 7516 §4.1.2',
    token: forge({ header: { alg: 'none', enc: 'A128GCM' }, payload: validClaims() }),
  },
]);

// --- RFC 8725 §3.11 / RFC 9068 §2.1: access tokens are explicitly typed at+jwt.
const typCases = rows(
  'ERR_JWT_TYP_INVALID',
  (
    [
      ['typ missing', undefined],
      ['typ JWT', 'JWT'],
      ['typ jwt', 'jwt'],
      ['typ application/jwt', 'application/jwt'],
      ['typ dpop+jwt (a DPoP proof)', 'dpop+jwt'],
      ['typ application/dpop+jwt', 'application/dpop+jwt'],
      ['typ secevent+jwt (a SET)', 'secevent+jwt'],
      ['typ logout+jwt', 'logout+jwt'],
      ['typ "at+jwt " (trailing space)', 'at+jwt '],
      ['typ at+jwt; charset=utf-8', 'at+jwt; charset=utf-8'],
      ['typ application/application/at+jwt', 'application/application/at+jwt'],
      ['typ x-application/at+jwt', 'x-application/at+jwt'],
      ['typ empty string', ''],
      ['typ null', null],
      ['typ number', 1],
      ['typ array', ['at+jwt']],
    ] as const
  ).map(([name, typ]) => ({ name, source: 'RFC 8725 §3.11', token: token({ typ }, issuerKey) })),
);

const allCases = [
  ...keyHeaderCases,
  ...kidInvalidCases,
  ...kidLookupCases,
  ...critCases,
  ...b64Cases,
  ...nestedCases,
  ...jweCases,
  ...typCases,
];

describe('header injection (RFC 8725 §3.10, §3.11; RFC 7515 §4.1)', () => {
  it('has unique case names', () => {
    assertUniqueNames(allCases);
  });

  it.each(titled(allCases))('%s', async (_title, { token: t, code }) => {
    await expectRefused(verifier, t, code);
  });

  describe('positive controls', () => {
    it('accepts a valid token with kid k1', async () => {
      await expectAccepted(verifier, signToken(issuerKey));
    });

    it('accepts a kid of exactly 256 characters', async () => {
      await expectAccepted(verifier, signToken(longKey));
    });

    it('accepts a kid with an inner space', async () => {
      await expectAccepted(verifier, signToken(spacedKey));
    });

    it('accepts b64 true (the default meaning, RFC 7797 §3)', async () => {
      await expectAccepted(verifier, signToken(issuerKey, {}, { b64: true }));
    });

    // RFC 7515 §4.1.9: media types compare case-insensitively and `application/` may be omitted.
    it.each(['at+jwt', 'application/at+jwt', 'AT+JWT', 'Application/At+Jwt'])(
      'accepts typ %s',
      async (typ) => {
        await expectAccepted(verifier, signToken(issuerKey, {}, { typ }));
      },
    );

    it('typ: null disables the typ check', async () => {
      const untyped = jwksVerifier([issuerKey.publicJwk], { typ: null });
      await expectAccepted(untyped, token({ typ: undefined }, issuerKey));
      await expectAccepted(untyped, token({ typ: 'JWT' }, issuerKey));
      // The other header rules still apply.
      await expectRefused(untyped, token({ jwk: attacker.publicJwk }), 'ERR_JWT_HEADER_KEY_FORBIDDEN');
    });

    it('a custom typ replaces at+jwt', async () => {
      const custom = jwksVerifier([issuerKey.publicJwk], { typ: 'application/secevent+jwt' });
      await expectAccepted(custom, token({ typ: 'secevent+jwt' }, issuerKey));
      await expectRefused(custom, token({ typ: 'at+jwt' }, issuerKey), 'ERR_JWT_TYP_INVALID');
    });
  });
});

import { describe, expect, it } from 'vitest';
import {
  assertUniqueNames,
  expectAccepted,
  expectRefused,
  jwksVerifier,
  titled,
  type AttackCase,
} from '../helpers/attacks.js';
import { createTestKey } from '../helpers/keys.js';
import { createVerifier } from '../../src/index.js';
import { AUDIENCE, ISSUER, NOW, NOW_MS, forge, validClaims } from '../helpers/tokens.js';

// Claims are checked only after the signature, so every row here is validly signed by the issuer:
// what is refused is the content (RFC 7519 §7.2 step 10, RFC 9068 §4, RFC 8725 §3.8-3.9).
const key = createTestKey('ES256', 'k1');
const verifier = jwksVerifier([key.publicJwk]);
const TOLERANCE = 30; // default clockToleranceSec
const MAX_AGE = 86_400; // default maxTokenAgeSec
const HEADER = { alg: 'ES256', typ: 'at+jwt', kid: 'k1' };

const REMOVE = Symbol('remove');
type Overrides = Record<string, unknown>;

/** A signed token with claim overrides; `REMOVE` drops a claim, `{ raw }` writes exact JSON text. */
function withClaims(overrides: Overrides): string {
  const raws: string[] = [];
  const claims: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(validClaims(overrides))) {
    if (value === REMOVE) continue;
    if (typeof value === 'object' && value !== null && Object.hasOwn(value, 'raw')) {
      raws.push(`${JSON.stringify(name)}:${(value as { raw: string }).raw}`);
    } else {
      claims[name] = value;
    }
  }
  const text = JSON.stringify(claims);
  const payload = raws.length === 0 ? text : `${text.slice(0, -1)},${raws.join(',')}}`;
  return forge({ header: HEADER, payload, signer: { alg: 'ES256', key: key.privateKey } });
}

const row = (code: AttackCase['code'], name: string, source: string, overrides: Overrides): AttackCase => ({
  name,
  source,
  token: withClaims(overrides),
  code,
});

// --- RFC 7519 §2 NumericDate: a JSON number of seconds; guard takes non-negative safe integers.
const BAD_DATES: readonly { label: string; value: unknown }[] = [
  { label: 'a numeric string', value: String(NOW + 300) },
  { label: 'a float (1.5)', value: 1.5 },
  { label: 'a float near now', value: NOW + 300.5 },
  { label: '1e400 (Infinity once parsed)', value: { raw: '1e400' } },
  { label: '-1', value: -1 },
  { label: 'null', value: null },
  { label: 'true', value: true },
  { label: 'an array', value: [NOW + 300] },
  { label: 'an object', value: { t: NOW + 300 } },
  { label: '2**53 (not a safe integer)', value: 2 ** 53 },
];

const dateCases: AttackCase[] = (['exp', 'nbf', 'iat'] as const).flatMap((claim) =>
  BAD_DATES.map(({ label, value }) =>
    row('ERR_JWT_CLAIM_INVALID', `${claim} is ${label}`, 'RFC 7519 §2', { [claim]: value }),
  ),
);

// --- Claim types (RFC 7519 §4.1, RFC 9068 §2.2, RFC 7800 §3.1).
const typeCases: AttackCase[] = (
  [
    ['sub is a number', 'RFC 7519 §4.1.2', { sub: 123 }],
    ['sub is null', 'RFC 7519 §4.1.2', { sub: null }],
    ['sub is empty', 'RFC 8725 §3.8', { sub: '' }],
    ['sub is an array', 'RFC 7519 §4.1.2', { sub: ['user-1'] }],
    ['sub is an object', 'RFC 7519 §4.1.2', { sub: { id: 'user-1' } }],
    ['iss is a number', 'RFC 7519 §4.1.1', { iss: 1 }],
    ['iss is an array holding the issuer', 'RFC 7519 §4.1.1', { iss: [ISSUER] }],
    ['iss is null', 'RFC 7519 §4.1.1', { iss: null }],
    ['aud is a number', 'RFC 7519 §4.1.3', { aud: 1 }],
    ['aud array holds a non-string', 'RFC 7519 §4.1.3', { aud: [AUDIENCE, 1] }],
    ['aud array holds null', 'RFC 7519 §4.1.3', { aud: [AUDIENCE, null] }],
    ['aud array holds a nested array', 'RFC 7519 §4.1.3', { aud: [[AUDIENCE]] }],
    ['aud is an object', 'RFC 7519 §4.1.3', { aud: { [AUDIENCE]: true } }],
    ['aud is true', 'RFC 7519 §4.1.3', { aud: true }],
    ['aud is null', 'RFC 7519 §4.1.3', { aud: null }],
    ['scope is a number', 'RFC 9068 §2.2.3', { scope: 1 }],
    ['scope is an array', 'RFC 9068 §2.2.3', { scope: ['accounts:read'] }],
    ['scope is null', 'RFC 9068 §2.2.3', { scope: null }],
    ['client_id is a number', 'RFC 9068 §2.2', { client_id: 1 }],
    ['client_id is an object', 'RFC 9068 §2.2', { client_id: { id: 'c' } }],
    ['client_id is null', 'RFC 9068 §2.2', { client_id: null }],
    ['azp is a number (no client_id)', 'RFC 9068 §2.2', { client_id: REMOVE, azp: 1 }],
    ['jti is a number', 'RFC 7519 §4.1.7', { jti: 1 }],
    ['sid is a number', 'RFC 7519 §4.2', { sid: 1 }],
    ['tenant is a number', 'RFC 7519 §4.3', { tenant: 1 }],
    ['cnf is a string', 'RFC 7800 §3.1', { cnf: 'jkt' }],
    ['cnf is an array', 'RFC 7800 §3.1', { cnf: [] }],
    ['cnf is null', 'RFC 7800 §3.1', { cnf: null }],
    ['cnf is a number', 'RFC 7800 §3.1', { cnf: 1 }],
    ['cnf.jkt is a number', 'RFC 9449 §6.1', { cnf: { jkt: 1 } }],
    ['cnf.jkt is empty', 'RFC 9449 §6.1', { cnf: { jkt: '' } }],
    ['cnf.jkt is null', 'RFC 9449 §6.1', { cnf: { jkt: null } }],
    ['cnf.jkt is an object', 'RFC 9449 §6.1', { cnf: { jkt: { kty: 'EC' } } }],
    ['cnf.x5t#S256 is a number', 'RFC 8705 §3.1', { cnf: { 'x5t#S256': 1 } }],
    ['cnf.x5t#S256 is empty', 'RFC 8705 §3.1', { cnf: { 'x5t#S256': '' } }],
    ['roles is a string', 'RFC 9068 §2.2.3.1', { roles: 'admin' }],
    ['roles holds a number', 'RFC 9068 §2.2.3.1', { roles: [1] }],
    ['roles holds null', 'RFC 9068 §2.2.3.1', { roles: ['user', null] }],
    ['roles holds an array', 'RFC 9068 §2.2.3.1', { roles: [['admin']] }],
    ['roles is an object', 'RFC 9068 §2.2.3.1', { roles: { admin: true } }],
    ['roles is null', 'RFC 9068 §2.2.3.1', { roles: null }],
  ] as const
).map(([name, source, overrides]) => row('ERR_JWT_CLAIM_INVALID', name, source, overrides));

// --- RFC 9068 §2.2: iss, aud, exp, iat and sub are required by default.
const missingCases: AttackCase[] = (['iss', 'aud', 'exp', 'iat', 'sub'] as const).map((claim) =>
  row('ERR_JWT_CLAIM_MISSING', `${claim} missing`, 'RFC 9068 §2.2', { [claim]: REMOVE }),
);

// --- RFC 8725 §3.8: the issuer is compared exactly, never normalized.
const issuerCases: AttackCase[] = (
  [
    ['trailing slash', `${ISSUER}/`],
    ['http instead of https', ISSUER.replace('https:', 'http:')],
    ['different case in the host', ISSUER.replace('auth', 'AUTH')],
    ['different case in the scheme', ISSUER.replace('https', 'HTTPS')],
    ['prefix of the issuer', ISSUER.slice(0, -3)],
    ['issuer as a prefix of another host', `${ISSUER}.evil.example`],
    ['issuer inside another URL path', `https://evil.example/${ISSUER}`],
    ['explicit default port', `${ISSUER}:443`],
    ['trailing dot in the host', `${ISSUER}.`],
    ['fragment appended', `${ISSUER}#`],
    ['leading space', ` ${ISSUER}`],
    ['Cyrillic lookalike letter', ISSUER.replace('auth', 'аuth')],
    ['empty string', ''],
    ['another issuer', 'https://evil.example'],
  ] as const
).map(([name, iss]) => row('ERR_JWT_ISSUER_INVALID', `iss: ${name}`, 'RFC 8725 §3.8', { iss }));

// --- RFC 7519 §4.1.3, RFC 8725 §3.9: this resource must be among the audiences.
const audienceCases: AttackCase[] = (
  [
    ['another resource', 'https://other.example'],
    ['prefix of the audience', AUDIENCE.slice(0, -3)],
    ['audience with trailing slash', `${AUDIENCE}/`],
    ['audience in upper case', AUDIENCE.toUpperCase()],
    ['audience as a prefix of another host', `${AUDIENCE}.evil.example`],
    ['empty array', []],
    ['array of other resources', ['https://a.example', 'https://b.example']],
    ['empty string', ''],
    ['wildcard', '*'],
    ['wildcard in an array', ['*']],
  ] as const
).map(([name, aud]) => row('ERR_JWT_AUDIENCE_INVALID', `aud: ${name}`, 'RFC 8725 §3.9', { aud }));

// --- Time (RFC 7519 §4.1.4-4.1.6) with the default 30 s tolerance and 24 h maximum lifetime.
// The lifetime cap is guard's policy on exp and iat: a stolen long-lived token is a long-lived breach.
const LIFETIME_SOURCE = 'RFC 7519 §4.1.4, §4.1.6';
const timeCases: AttackCase[] = [
  row('ERR_JWT_EXPIRED', 'exp one hour ago', 'RFC 7519 §4.1.4', { iat: NOW - 7200, exp: NOW - 3600 }),
  row('ERR_JWT_EXPIRED', 'exp just beyond tolerance', 'RFC 7519 §4.1.4', {
    iat: NOW - 600,
    exp: NOW - TOLERANCE - 1,
  }),
  // "on or after" exp is expired: now - tolerance == exp is the first refused second.
  row('ERR_JWT_EXPIRED', 'exp exactly at the tolerance boundary', 'RFC 7519 §4.1.4', {
    iat: NOW - 600,
    exp: NOW - TOLERANCE,
  }),
  row('ERR_JWT_EXPIRED', 'exp 0', 'RFC 7519 §4.1.4', { iat: 0, exp: 0 }),
  row('ERR_JWT_NOT_YET_VALID', 'nbf just beyond tolerance', 'RFC 7519 §4.1.5', { nbf: NOW + TOLERANCE + 1 }),
  row('ERR_JWT_NOT_YET_VALID', 'nbf one hour ahead', 'RFC 7519 §4.1.5', { nbf: NOW + 3600, exp: NOW + 7200 }),
  row('ERR_JWT_IAT_FUTURE', 'iat just beyond tolerance', 'RFC 7519 §4.1.6', { iat: NOW + TOLERANCE + 1 }),
  row('ERR_JWT_IAT_FUTURE', 'iat one hour ahead', 'RFC 7519 §4.1.6', { iat: NOW + 3600, exp: NOW + 7200 }),
  row('ERR_JWT_LIFETIME_EXCEEDED', 'exp - iat one second over the maximum', LIFETIME_SOURCE, {
    iat: NOW - 10,
    exp: NOW - 10 + MAX_AGE + 1,
  }),
  row('ERR_JWT_LIFETIME_EXCEEDED', 'exp 1e15 (practically never expires)', LIFETIME_SOURCE, {
    exp: 1e15,
  }),
  row('ERR_JWT_LIFETIME_EXCEEDED', 'exp - iat of one year', LIFETIME_SOURCE, {
    iat: NOW - 10,
    exp: NOW + 365 * 86_400,
  }),
];

const allCases = [
  ...dateCases,
  ...typeCases,
  ...missingCases,
  ...issuerCases,
  ...audienceCases,
  ...timeCases,
];

describe('claims (RFC 7519 §4.1, §7.2; RFC 9068 §4; RFC 8725 §3.8-3.9)', () => {
  it('has unique case names', () => {
    assertUniqueNames(allCases);
  });

  it.each(titled(allCases))('%s', async (_title, { token, code }) => {
    await expectRefused(verifier, token, code);
  });

  describe('policy options', () => {
    it('refuses a token with neither exp nor iat even when neither is required', async () => {
      // Deny by default: a token that never expires is refused whatever requiredClaims says.
      const lenient = jwksVerifier([key.publicJwk], { requiredClaims: ['iss', 'aud', 'sub'] });
      await expectRefused(lenient, withClaims({ exp: REMOVE, iat: REMOVE }), 'ERR_JWT_CLAIM_MISSING');
      // Without exp, iat + maxTokenAgeSec is the expiry.
      await expectRefused(
        lenient,
        withClaims({ exp: REMOVE, iat: NOW - MAX_AGE - TOLERANCE }),
        'ERR_JWT_EXPIRED',
      );
      // Without iat, the lifetime counts from now.
      await expectRefused(
        lenient,
        withClaims({ iat: REMOVE, exp: NOW + MAX_AGE + 1 }),
        'ERR_JWT_LIFETIME_EXCEEDED',
      );
      const principal = await expectAccepted(lenient, withClaims({ exp: REMOVE, iat: NOW - 10 }));
      expect(principal.expiresAt).toBe(NOW - 10 + MAX_AGE);
    });

    it('honours a custom maxTokenAgeSec', async () => {
      const short = jwksVerifier([key.publicJwk], { maxTokenAgeSec: 300 });
      await expectRefused(short, withClaims({ iat: NOW - 10, exp: NOW + 291 }), 'ERR_JWT_LIFETIME_EXCEEDED');
      await expectAccepted(short, withClaims({ iat: NOW - 10, exp: NOW + 290 }));
    });

    it('with zero tolerance, exp == now is expired and exp == now + 1 is not', async () => {
      const strict = jwksVerifier([key.publicJwk], { clockToleranceSec: 0 });
      await expectRefused(strict, withClaims({ iat: NOW - 10, exp: NOW }), 'ERR_JWT_EXPIRED');
      await expectAccepted(strict, withClaims({ iat: NOW - 10, exp: NOW + 1 }));
      await expectRefused(strict, withClaims({ nbf: NOW + 1 }), 'ERR_JWT_NOT_YET_VALID');
      await expectRefused(strict, withClaims({ iat: NOW + 1 }), 'ERR_JWT_IAT_FUTURE');
    });

    it('accepts any of several configured issuers and audiences, exactly', async () => {
      const multi = createVerifier({
        issuer: ['https://other-issuer.example', ISSUER],
        audience: ['https://a.example', AUDIENCE],
        jwks: { keys: [key.publicJwk] },
        now: () => NOW_MS,
        cache: false,
      });
      await expectAccepted(multi, withClaims({}));
      await expectAccepted(
        multi,
        withClaims({ iss: 'https://other-issuer.example', aud: 'https://a.example' }),
      );
      await expectRefused(multi, withClaims({ iss: `${ISSUER}/` }), 'ERR_JWT_ISSUER_INVALID');
      await expectRefused(multi, withClaims({ aud: 'https://b.example' }), 'ERR_JWT_AUDIENCE_INVALID');
    });
  });

  describe('positive controls (boundaries inside the tolerance)', () => {
    const accepted: readonly { name: string; overrides: Overrides }[] = [
      { name: 'plain valid claims', overrides: {} },
      { name: 'exp within tolerance', overrides: { iat: NOW - 600, exp: NOW - TOLERANCE + 1 } },
      { name: 'nbf at the tolerance boundary', overrides: { nbf: NOW + TOLERANCE } },
      { name: 'nbf now', overrides: { nbf: NOW } },
      { name: 'iat at the tolerance boundary', overrides: { iat: NOW + TOLERANCE } },
      { name: 'lifetime exactly the maximum', overrides: { iat: NOW - 10, exp: NOW - 10 + MAX_AGE } },
      { name: 'aud array containing this resource', overrides: { aud: ['https://other.example', AUDIENCE] } },
      { name: 'azp instead of client_id', overrides: { client_id: REMOVE, azp: 'client-2' } },
      { name: 'cnf with jkt', overrides: { cnf: { jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' } } },
      { name: 'roles as an array of strings', overrides: { roles: ['admin', 'user'] } },
      { name: 'empty scope', overrides: { scope: '' } },
      { name: 'no optional claims', overrides: { jti: REMOVE, scope: REMOVE, client_id: REMOVE } },
    ];

    it.each(accepted)('accepts $name', async ({ overrides }) => {
      await expectAccepted(verifier, withClaims(overrides));
    });

    it('exposes the checked claims on the principal', async () => {
      const principal = await expectAccepted(verifier, withClaims({ roles: ['admin'], tenant: 't1' }));
      expect(principal).toMatchObject({
        issuer: ISSUER,
        audience: [AUDIENCE],
        expiresAt: NOW + 300,
        issuedAt: NOW - 10,
        roles: ['admin'],
        tenant: 't1',
      });
    });
  });
});

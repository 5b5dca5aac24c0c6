import { beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, type Verifier } from '../../src/index.js';
import type { GuardEvent } from '../../src/events.js';
import type { Algorithm } from '../../src/jws/algorithms.js';
import { parseCompactJws } from '../../src/jws/parse-compact.js';
import { importJwk } from '../../src/jwks/import-jwk.js';
import { publicHalf, type JoseTest, type Jwk } from '../helpers/vectors-jose.js';
import { readVectorJson, type WycheproofFile } from '../helpers/vectors-wycheproof.js';
import { AUDIENCE, ISSUER, NOW_MS } from '../helpers/tokens.js';

/**
 * Wycheproof json_web_key_test.json: key sets a verifier is configured with, and one token each.
 * guard takes asymmetric keys from a key set (through importJwk) and an HMAC key only as the
 * `secret` option, so each group is run the way an operator would configure it:
 *  - a group with any asymmetric key: `jwks` = the public halves (RFC 7517 §4: what an issuer
 *    publishes; the private JWKs as given are refused, asserted separately);
 *  - an HMAC-only group: `secret` = the one HS* key whose kid is the token's kid (no such single key:
 *    nothing can be configured and the token is refused).
 * The payload of every token is not JSON ("foo" or empty), so a token whose signature guard accepts
 * ends in ERR_JWT_JSON_INVALID, raised only after verifySignature (the headers parse fine).
 */
interface JwkGroup {
  readonly comment: string;
  readonly private?: { readonly keys: readonly Jwk[] };
  readonly public?: { readonly keys: readonly Jwk[] };
  readonly tests: readonly JoseTest[];
}

const vectors = readVectorJson('wycheproof/testvectors/json_web_key_test.json') as WycheproofFile<JwkGroup>;

const ASYMMETRIC: readonly Algorithm[] = [
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
];
const SIGNATURE_ACCEPTED = 'signature accepted';

/** What guard does with each vector, and why: valid vectors must end in SIGNATURE_ACCEPTED. */
const EXPECTED: Readonly<Record<number, { outcome: string; why: string }>> = {
  1: {
    outcome: 'ERR_JWT_ALG_KEY_CONFUSION',
    why: 'HS256 token against a key set (RFC 8725 §2.1); the oct key is skipped',
  },
  2: { outcome: SIGNATURE_ACCEPTED, why: 'secret = the key named by the kid' },
  3: { outcome: 'ERR_JWT_SIGNATURE_INVALID', why: 'modified MAC' },
  4: {
    outcome: 'no unique secret',
    why: 'two different secrets share the kid: ambiguous, nothing to configure',
  },
  5: { outcome: SIGNATURE_ACCEPTED, why: 'RS256 2048-bit key' },
  6: { outcome: 'ERR_JWKS_NO_MATCHING_KEY', why: 'key skipped: use enc (RFC 7517 §4.2)' },
  7: { outcome: 'ERR_JWKS_NO_MATCHING_KEY', why: 'key skipped: ROCA modulus (CVE-2017-15361)' },
  8: { outcome: 'ERR_JWKS_NO_MATCHING_KEY', why: 'key skipped: 1024-bit RSA (RFC 7518 §3.3)' },
  9: { outcome: 'ERR_JWKS_NO_MATCHING_KEY', why: 'key skipped: e = 1 (RFC 8017 §3.1)' },
  10: { outcome: 'ERR_CONFIG_INVALID', why: '31-byte HS256 secret (RFC 7518 §3.2)' },
  11: { outcome: 'ERR_CONFIG_INVALID', why: '47-byte HS384 secret (RFC 7518 §3.2)' },
  12: { outcome: 'ERR_CONFIG_INVALID', why: '63-byte HS512 secret (RFC 7518 §3.2)' },
  13: { outcome: SIGNATURE_ACCEPTED, why: 'HS256 secret longer than the hash' },
  14: { outcome: SIGNATURE_ACCEPTED, why: 'HS384 secret longer than the hash' },
  15: { outcome: SIGNATURE_ACCEPTED, why: 'HS512 secret longer than the hash' },
  16: { outcome: 'ERR_CONFIG_INVALID', why: 'empty HS256 secret' },
  17: { outcome: 'ERR_CONFIG_INVALID', why: 'empty HS384 secret' },
  18: { outcome: 'ERR_CONFIG_INVALID', why: 'empty HS512 secret' },
  19: { outcome: 'ERR_JWKS_NO_MATCHING_KEY', why: 'key skipped: alg "ES521" is no JWS algorithm' },
  20: { outcome: 'ERR_JWKS_NO_MATCHING_KEY', why: 'key skipped: alg "ES224" is no JWS algorithm' },
  21: { outcome: 'ERR_JWKS_NO_MATCHING_KEY', why: 'key skipped: use enc' },
  22: { outcome: 'ERR_JWKS_NO_MATCHING_KEY', why: 'key skipped: point not on P-256' },
  23: { outcome: 'ERR_JWKS_NO_MATCHING_KEY', why: 'key skipped: P-256 coordinates labelled P-384' },
  24: { outcome: 'ERR_JWKS_NO_MATCHING_KEY', why: 'key skipped: kty RSA without n and e' },
  25: { outcome: 'no unique secret', why: 'the oct key is an A256GCM key, not an HMAC key (RFC 7517 §4.4)' },
  26: { outcome: 'no unique secret', why: 'the oct key is an A256KW key, not an HMAC key (RFC 7517 §4.4)' },
};

const keySetOf = (group: JwkGroup): readonly Jwk[] => (group.public ?? group.private)?.keys ?? [];
const isOct = (jwk: Jwk): boolean => jwk['kty'] === 'oct';

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') throw err;
  return code;
}

async function runVector(group: JwkGroup, test: JoseTest, events: GuardEvent[]): Promise<string> {
  const keys = keySetOf(group);
  const common = { issuer: ISSUER, audience: AUDIENCE, typ: null, requiredClaims: [], now: () => NOW_MS };
  let verifier: Verifier;
  try {
    if (keys.some((jwk) => !isOct(jwk))) {
      verifier = createVerifier({
        ...common,
        jwks: { keys: keys.map(publicHalf) },
        algorithms: ASYMMETRIC,
        onEvent: (event) => events.push(event),
      });
    } else {
      const kid = parseCompactJws(test.jws).header['kid'];
      const named = keys.filter((jwk) => jwk['kid'] === kid && /^HS(256|384|512)$/.test(String(jwk['alg'])));
      if (named.length !== 1) return 'no unique secret';
      const [jwk] = named as [Jwk];
      verifier = createVerifier({
        ...common,
        secret: Buffer.from(String(jwk['k']), 'base64url'),
        algorithms: [jwk['alg'] as Algorithm],
      });
    }
  } catch (err) {
    return errorCode(err);
  }
  try {
    await verifier.verify(test.jws);
    return 'accepted';
  } catch (err) {
    const code = errorCode(err);
    return code === 'ERR_JWT_JSON_INVALID' ? SIGNATURE_ACCEPTED : code;
  }
}

const results = new Map<number, string>();
const events: GuardEvent[] = [];

beforeAll(async () => {
  for (const group of vectors.testGroups) {
    for (const test of group.tests) results.set(test.tcId, await runVector(group, test, events));
  }
});

describe('Wycheproof JSON Web Key vectors', () => {
  it('runs every vector; every token header parses (so ERR_JWT_JSON_INVALID can only be the payload)', () => {
    expect(results.size).toBe(vectors.numberOfTests);
    expect(vectors.numberOfTests).toBe(26);
    for (const group of vectors.testGroups)
      for (const test of group.tests) expect(() => parseCompactJws(test.jws)).not.toThrow();
  });

  it.each(
    vectors.testGroups.flatMap((group) => group.tests.map((test) => ({ ...test, group: group.comment }))),
  )('tcId $tcId $group/$comment ($result)', ({ tcId, result }) => {
    const expected = EXPECTED[tcId];
    expect(expected, `no expectation for tcId ${tcId}`).toBeDefined();
    expect(results.get(tcId)).toBe(expected?.outcome);
    // The table may not contradict Wycheproof: valid means the signature is accepted.
    expect(expected?.outcome === SIGNATURE_ACCEPTED).toBe(result === 'valid');
  });

  it('reports why each published key was skipped', () => {
    const reasons = events.flatMap((e) => (e.type === 'jwks.key_skipped' ? [e.reason] : []));
    expect(reasons.sort()).toEqual([
      'RSA modulus is ROCA-weak',
      'RSA public exponent not allowed',
      'alg not allowed',
      'alg not allowed',
      'invalid key',
      'invalid key',
      'invalid key',
      'no allowed algorithm fits the key',
      'unsupported kty',
      'use is not sig',
      'use is not sig',
    ]);
  });
});

describe('importJwk on the Wycheproof key sets as given', () => {
  const allKeys = vectors.testGroups.flatMap((group) =>
    [...(group.private?.keys ?? []), ...(group.public?.keys ?? [])].map((jwk) => ({
      group: group.comment,
      jwk,
    })),
  );

  it('refuses every private asymmetric JWK (RFC 7517 §4: a key set publishes public keys)', () => {
    const privates = allKeys.filter(({ jwk }) => !isOct(jwk) && Object.hasOwn(jwk, 'd'));
    expect(privates).toHaveLength(11);
    for (const { group, jwk } of privates) {
      expect(importJwk(jwk, new Set(ASYMMETRIC)), group).toEqual({
        ok: false,
        reason: 'private key material',
      });
    }
  });

  it('refuses every symmetric JWK: HMAC keys are configured as `secret`, never read from a key set', () => {
    const octs = allKeys.filter(({ jwk }) => isOct(jwk));
    expect(octs).toHaveLength(16);
    for (const { group, jwk } of octs) {
      expect(importJwk(jwk, new Set(ASYMMETRIC)), group).toEqual({ ok: false, reason: 'unsupported kty' });
    }
  });
});

describe('RSA public exponent rules beyond the vectors (RFC 8017 §3.1: odd, at least 3)', () => {
  const rs256 = vectors.testGroups.find((g) => g.comment === 'rs256')?.private?.keys[0] as Jwk;
  const cases: readonly { name: string; e: string; result: string }[] = [
    { name: 'e = 1 (the vector)', e: 'AQ', result: 'RSA public exponent not allowed' },
    { name: 'e = 2', e: 'Ag', result: 'RSA public exponent not allowed' },
    { name: 'e = 65536 (even)', e: 'AQAA', result: 'RSA public exponent not allowed' },
    { name: 'e = 3', e: 'Aw', result: 'imported' },
    { name: 'e = 65537', e: 'AQAB', result: 'imported' },
  ];

  it.each(cases)('$name -> $result', ({ e, result }) => {
    const imported = importJwk({ ...publicHalf(rs256), e }, new Set(['RS256'] as const));
    expect(imported.ok ? 'imported' : imported.reason).toBe(result);
  });
});

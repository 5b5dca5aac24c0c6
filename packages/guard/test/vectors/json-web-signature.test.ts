import { beforeAll, describe, expect, it } from 'vitest';
import type { GuardEvent } from '../../src/events.js';
import {
  algorithmsForKey,
  keySourceFor,
  verifyJwsLayer,
  type JoseTest,
  type Jwk,
} from '../helpers/vectors-jose.js';
import {
  describeOutcome,
  outcomeOfAsync,
  readVectorJson,
  tally,
  type Outcome,
  type WycheproofFile,
} from '../helpers/vectors-wycheproof.js';

/**
 * Wycheproof json_web_signature_test.json through guard's JWS layer: parseCompactJws, checkHeader
 * (the group key's algorithms allowed, typ: null, keyMode from the key type), key selection from
 * the group's public JWK (a static key set) or, for HS*, its secret `k`, then verifySignature.
 */
interface JwsGroup {
  readonly comment: string;
  readonly public?: Jwk;
  readonly private?: Jwk;
  readonly tests: readonly JoseTest[];
}

const vectors = readVectorJson(
  'wycheproof/testvectors/json_web_signature_test.json',
) as WycheproofFile<JwsGroup>;

/**
 * Vectors Wycheproof calls valid for a generic JOSE library that guard refuses on purpose, each
 * with its exact code and rule. The test fails if one is accepted, refused differently, or stale.
 */
const REFUSED_VALID: readonly { tcId: number; code: string; source: string; reason: string }[] = [
  {
    tcId: 346,
    code: 'ERR_JWT_ALG_NOT_ALLOWED',
    source: 'RFC 7517 §4.4, RFC 8725 §3.1',
    reason:
      'the group key carries alg PS256 but the token (RFC 7520 Figure 20) is PS384: a JWK alg binds the key',
  },
  {
    tcId: 350,
    code: 'ERR_JWT_ALG_NOT_ALLOWED',
    source: 'RFC 7517 §4.4, RFC 8725 §3.1',
    reason: 'same as tcId 346, key_ops variant',
  },
  {
    tcId: 347,
    code: 'ERR_JWT_ALG_NOT_ALLOWED',
    source: 'RFC 7518 §3.1, RFC 8725 §3.1',
    reason:
      'the group key carries alg "ES521", which is no JWS algorithm (P-521 is ES512): nothing is allowed',
  },
  {
    tcId: 351,
    code: 'ERR_JWT_ALG_NOT_ALLOWED',
    source: 'RFC 7518 §3.1, RFC 8725 §3.1',
    reason: 'same as tcId 347, key_ops variant',
  },
  {
    tcId: 372,
    code: 'ERR_JWT_BASE64URL_INVALID',
    source: 'RFC 7515 §2, RFC 4648 §3.3',
    reason: 'a "?" inside the header segment: guard refuses characters outside the base64url alphabet',
  },
  {
    tcId: 373,
    code: 'ERR_JWT_BASE64URL_INVALID',
    source: 'RFC 7515 §2, RFC 4648 §3.3',
    reason: 'a "?" inside the payload segment, as tcId 372',
  },
];

/**
 * Vectors Wycheproof calls invalid whose token is byte-for-byte a token it calls valid: no
 * verifier can tell them apart (the generator meant to add "=" padding but did not).
 */
const SAME_AS_VALID: readonly { tcId: number; sameAs: number }[] = [
  { tcId: 367, sameAs: 357 },
  { tcId: 370, sameAs: 357 },
];

interface Run {
  readonly group: JwsGroup;
  readonly test: JoseTest;
  readonly outcome: Outcome;
}

const runs: Run[] = [];
const keyEvents: GuardEvent[] = [];
const runOf = (tcId: number): Run => runs.find((r) => r.test.tcId === tcId) as Run;

beforeAll(async () => {
  for (const group of vectors.testGroups) {
    const key = group.public ?? group.private;
    if (key === undefined) throw new Error(`group ${group.comment} has no key`);
    const algorithms = algorithmsForKey(key);
    const keyMode = key['kty'] === 'oct' ? 'symmetric' : 'asymmetric';
    const keys = keySourceFor(key, algorithms, keyEvents);
    for (const test of group.tests) {
      const outcome = await outcomeOfAsync(async () => {
        await verifyJwsLayer(test.jws, { algorithms, keyMode, keys });
      });
      runs.push({ group, test, outcome });
    }
  }
});

describe('Wycheproof JSON Web Signature vectors through the JWS layer', () => {
  it('runs every vector, with the public JWK for every asymmetric group', () => {
    expect(runs).toHaveLength(vectors.numberOfTests);
    expect(vectors.numberOfTests).toBe(401);
    const privateOnly = vectors.testGroups.filter((g) => g.public === undefined);
    expect(privateOnly.map((g) => g.private?.['kty'])).toEqual(['oct', 'oct', 'oct', 'oct']);
  });

  it('accepts every valid vector except the listed, deliberate refusals', () => {
    const problems = runs
      .filter((r) => r.test.result === 'valid')
      .flatMap(({ test, outcome }) => {
        const listed = REFUSED_VALID.find((entry) => entry.tcId === test.tcId);
        if (listed === undefined)
          return outcome.accepted ? [] : [`tcId ${test.tcId} refused: ${describeOutcome(outcome)}`];
        return describeOutcome(outcome) === listed.code ? [] : [`tcId ${test.tcId} expected ${listed.code}`];
      });
    expect(problems).toEqual([]);
    // No stale entry: each listed vector exists and is one Wycheproof calls valid.
    for (const entry of REFUSED_VALID)
      expect(runOf(entry.tcId).test.result, `tcId ${entry.tcId}`).toBe('valid');
  });

  it('refuses every invalid vector with a GuardError, except tokens identical to a valid one', () => {
    const accepted = runs
      .filter((r) => r.test.result !== 'valid' && r.outcome.accepted)
      .map((r) => r.test.tcId);
    expect(accepted).toEqual(SAME_AS_VALID.map((entry) => entry.tcId));
    for (const { tcId, sameAs } of SAME_AS_VALID) {
      expect(runOf(tcId).test.jws).toBe(runOf(sameAs).test.jws);
      expect(runOf(sameAs).test.result).toBe('valid');
    }
  });

  it('refuses with these codes, in these numbers', () => {
    const codes = new Set(
      runs.flatMap((r) => (r.test.result === 'invalid' && !r.outcome.accepted ? [r.outcome.code] : [])),
    );
    expect([...codes].sort()).toEqual([
      'ERR_JWKS_NO_MATCHING_KEY',
      'ERR_JWT_ALG_KEY_CONFUSION',
      'ERR_JWT_ALG_NONE',
      'ERR_JWT_ALG_NOT_ALLOWED',
      'ERR_JWT_BASE64URL_INVALID',
      'ERR_JWT_HEADER_KEY_FORBIDDEN',
      'ERR_JWT_MALFORMED',
      'ERR_JWT_SIGNATURE_INVALID',
      'ERR_JWT_SIGNATURE_MALFORMED',
    ]);
    expect(tally(runs.map((r) => `${r.test.result} -> ${describeOutcome(r.outcome)}`))).toEqual({
      'invalid -> ERR_JWKS_NO_MATCHING_KEY': 6,
      'invalid -> ERR_JWT_ALG_KEY_CONFUSION': 1,
      'invalid -> ERR_JWT_ALG_NONE': 5,
      'invalid -> ERR_JWT_ALG_NOT_ALLOWED': 5,
      'invalid -> ERR_JWT_BASE64URL_INVALID': 12,
      'invalid -> ERR_JWT_HEADER_KEY_FORBIDDEN': 1,
      'invalid -> ERR_JWT_MALFORMED': 24,
      'invalid -> ERR_JWT_SIGNATURE_INVALID': 273,
      'invalid -> ERR_JWT_SIGNATURE_MALFORMED': 26,
      'invalid -> accepted': 2,
      'valid -> ERR_JWT_ALG_NOT_ALLOWED': 4,
      'valid -> ERR_JWT_BASE64URL_INVALID': 2,
      'valid -> accepted': 40,
    });
  });

  it('skips the encryption keys and the key with an unknown alg when building the key set', () => {
    // RFC 7517 §4.2 / §4.3: a key for encryption never verifies; RFC 7517 §4.4: alg binds the key.
    expect(tally(keyEvents.map((e) => ('reason' in e ? e.reason : e.type)))).toEqual({
      'alg not allowed': 2,
      'key_ops lacks verify': 2,
      'use is not sig': 2,
    });
  });

  const attacks: readonly { name: string; source: string; tcId: number; code: string }[] = [
    {
      name: 'alg none, empty signature',
      source: 'RFC 8725 §3.1, CVE-2015-9235',
      tcId: 16,
      code: 'ERR_JWT_ALG_NONE',
    },
    { name: 'alg NONE (casing)', source: 'RFC 8725 §3.1', tcId: 342, code: 'ERR_JWT_ALG_NONE' },
    { name: 'alg none naming the real kid', source: 'RFC 8725 §3.1', tcId: 344, code: 'ERR_JWT_ALG_NONE' },
    {
      name: 'HS256 keyed with the EC public key bytes',
      source: 'RFC 8725 §2.1, §3.1',
      tcId: 31,
      code: 'ERR_JWT_ALG_KEY_CONFUSION',
    },
    {
      name: 'attacker key embedded as jwk header',
      source: 'RFC 8725 §3.10, CVE-2018-0114',
      tcId: 32,
      code: 'ERR_JWT_HEADER_KEY_FORBIDDEN',
    },
    {
      name: 'RS256 with a PS512 key',
      source: 'RFC 7517 §4.4, RFC 8725 §3.1',
      tcId: 332,
      code: 'ERR_JWT_ALG_NOT_ALLOWED',
    },
    {
      name: 'JWS JSON serialization',
      source: 'RFC 7519 §7.2 (compact only)',
      tcId: 17,
      code: 'ERR_JWT_MALFORMED',
    },
    { name: 'extra empty segment', source: 'RFC 7515 §7.1', tcId: 14, code: 'ERR_JWT_MALFORMED' },
    { name: 'missing signature', source: 'RFC 7518 §3.2', tcId: 3, code: 'ERR_JWT_SIGNATURE_MALFORMED' },
    {
      name: 'kid changed to an unknown key',
      source: 'RFC 7515 §4.1.4',
      tcId: 25,
      code: 'ERR_JWKS_NO_MATCHING_KEY',
    },
    { name: 'RSA key with use enc', source: 'RFC 7517 §4.2', tcId: 353, code: 'ERR_JWKS_NO_MATCHING_KEY' },
    {
      name: 'EC key with key_ops encrypt',
      source: 'RFC 7517 §4.3',
      tcId: 356,
      code: 'ERR_JWKS_NO_MATCHING_KEY',
    },
    {
      name: 'stray bits in the last base64url character',
      source: 'RFC 4648 §3.5',
      tcId: 374,
      code: 'ERR_JWT_BASE64URL_INVALID',
    },
    {
      name: 'spaces in the header segment',
      source: 'RFC 7515 §2',
      tcId: 365,
      code: 'ERR_JWT_BASE64URL_INVALID',
    },
    { name: 'ECDSA r = s = 0', source: 'CVE-2022-21449', tcId: 386, code: 'ERR_JWT_SIGNATURE_MALFORMED' },
    { name: 'ECDSA r = n', source: 'SEC 1 §4.1.4', tcId: 399, code: 'ERR_JWT_SIGNATURE_MALFORMED' },
    {
      name: 'ECDSA signature with trailing zeros',
      source: 'RFC 7518 §3.4',
      tcId: 380,
      code: 'ERR_JWT_SIGNATURE_MALFORMED',
    },
    {
      name: 'RSA-PSS signature not reduced mod n',
      source: 'RFC 8017 §8.1.2',
      tcId: 316,
      code: 'ERR_JWT_SIGNATURE_MALFORMED',
    },
  ];

  it.each(attacks)('refuses $name ($source) with $code', ({ tcId, code }) => {
    expect(runOf(tcId).test.result).toBe('invalid');
    expect(runOf(tcId).outcome).toEqual({ accepted: false, code });
  });
});

import { createSecretKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createVerifier } from '../../src/index.js';
import { ALGORITHMS } from '../../src/jws/algorithms.js';
import { verifySignature } from '../../src/jws/verify-signature.js';
import { INVALID, MALFORMED } from '../helpers/vectors-signature.js';
import {
  describeOutcome,
  readVectorJson,
  hex,
  outcomeOf,
  tally,
  type MacGroup,
  type WycheproofFile,
} from '../helpers/vectors-wycheproof.js';
import { AUDIENCE, ISSUER, NOW_MS } from '../helpers/tokens.js';

/**
 * Wycheproof HMAC vectors through guard's `verifySignature` (HS256/384/512, RFC 7518 §3.2).
 * JWS MACs are the full hash output: the truncated-tag groups are run too, and every one of their
 * vectors (even those Wycheproof calls valid for a generic truncated MAC) must be refused as
 * ERR_JWT_SIGNATURE_MALFORMED.
 */
const FILES = [
  {
    file: 'wycheproof/testvectors_v1/hmac_sha256_test.json',
    alg: 'HS256',
    truncatedGroups: 3,
    truncatedTests: 87,
    shortKeyBits: [128],
    full: { 'invalid -> ERR_JWT_SIGNATURE_INVALID': 54, 'valid -> accepted': 33 },
  },
  {
    file: 'wycheproof/testvectors_v1/hmac_sha384_test.json',
    alg: 'HS384',
    truncatedGroups: 3,
    truncatedTests: 87,
    shortKeyBits: [192],
    full: { 'invalid -> ERR_JWT_SIGNATURE_INVALID': 54, 'valid -> accepted': 33 },
  },
  {
    file: 'wycheproof/testvectors_v1/hmac_sha512_test.json',
    alg: 'HS512',
    truncatedGroups: 3,
    truncatedTests: 87,
    shortKeyBits: [256],
    full: { 'invalid -> ERR_JWT_SIGNATURE_INVALID': 54, 'valid -> accepted': 33 },
  },
] as const;

describe.each(FILES)(
  'Wycheproof HMAC $alg',
  ({ file, alg, truncatedGroups, truncatedTests, shortKeyBits, full }) => {
    const vectors = readVectorJson(file) as WycheproofFile<MacGroup>;
    const hashBits = ALGORITHMS[alg].hashBytes * 8;
    const fullGroups = vectors.testGroups.filter((g) => g.tagSize === hashBits);
    const truncated = vectors.testGroups.filter((g) => g.tagSize !== hashBits);

    const run = (group: MacGroup) =>
      group.tests.map((test) => ({
        test,
        outcome: outcomeOf(() => {
          verifySignature(alg, createSecretKey(hex(test.key)), hex(test.msg), hex(test.tag));
        }),
      }));

    it('splits the file into full-size-tag groups and counted truncated-tag groups', () => {
      expect(truncated).toHaveLength(truncatedGroups);
      expect(truncated.reduce((n, g) => n + g.tests.length, 0)).toBe(truncatedTests);
      expect(fullGroups.reduce((n, g) => n + g.tests.length, 0) + truncatedTests).toBe(vectors.numberOfTests);
    });

    it('accepts every valid full-size tag and refuses every modified one', () => {
      const runs = fullGroups.flatMap(run);
      const mismatches = runs
        .filter(({ test, outcome }) =>
          test.result === 'valid' ? !outcome.accepted : outcome.accepted || outcome.code !== INVALID,
        )
        .map(({ test, outcome }) => `tcId ${test.tcId}: ${test.result} -> ${describeOutcome(outcome)}`);
      expect(mismatches).toEqual([]);
      expect(tally(runs.map(({ test, outcome }) => `${test.result} -> ${describeOutcome(outcome)}`))).toEqual(
        full,
      );
    });

    it('refuses every truncated tag as ERR_JWT_SIGNATURE_MALFORMED (RFC 7518 §3.2: no truncation)', () => {
      const runs = truncated.flatMap(run);
      expect(runs).toHaveLength(truncatedTests);
      expect(tally(runs.map(({ outcome }) => describeOutcome(outcome)))).toEqual({
        [MALFORMED]: truncatedTests,
      });
    });

    it('refuses, at configuration, the secrets Wycheproof uses that are shorter than the hash', () => {
      // RFC 7518 §3.2: "a key of the same size as the hash output ... or larger MUST be used".
      const short = [...new Set(vectors.testGroups.map((g) => g.keySize).filter((bits) => bits < hashBits))];
      expect(short).toEqual(shortKeyBits);
      for (const bits of short) {
        const secret = hex(vectors.testGroups.find((g) => g.keySize === bits)?.tests[0]?.key ?? '');
        expect(secret).toHaveLength(bits / 8);
        expect(() =>
          createVerifier({
            issuer: ISSUER,
            audience: AUDIENCE,
            secret,
            algorithms: [alg],
            now: () => NOW_MS,
          }),
        ).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
      }
    });
  },
);

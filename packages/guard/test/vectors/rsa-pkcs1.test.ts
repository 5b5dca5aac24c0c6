import { describe, expect, it } from 'vitest';
import type { Algorithm } from '../../src/jws/algorithms.js';
import { MALFORMED, runSignatureFile } from '../helpers/vectors-signature.js';
import { readVectorJson, type SignatureGroup, type WycheproofFile } from '../helpers/vectors-wycheproof.js';

/** Wycheproof RSASSA-PKCS1-v1_5 vectors (RFC 7518 §3.3, RS256/384/512) through guard. */
const HASH_TO_ALG: Readonly<Record<string, Algorithm>> = {
  'SHA-256': 'RS256',
  'SHA-384': 'RS384',
  'SHA-512': 'RS512',
};

const FILES = [
  {
    file: 'wycheproof/testvectors_v1/rsa_signature_2048_sha256_test.json',
    alg: 'RS256',
    total: 259,
    tally: {
      'acceptable -> ERR_JWT_SIGNATURE_INVALID': 1,
      'invalid -> ERR_JWT_SIGNATURE_INVALID': 247,
      'invalid -> ERR_JWT_SIGNATURE_MALFORMED': 2,
      'valid -> accepted': 9,
    },
  },
  {
    file: 'wycheproof/testvectors_v1/rsa_signature_2048_sha384_test.json',
    alg: 'RS384',
    total: 258,
    tally: {
      'acceptable -> ERR_JWT_SIGNATURE_INVALID': 1,
      'invalid -> ERR_JWT_SIGNATURE_INVALID': 248,
      'invalid -> ERR_JWT_SIGNATURE_MALFORMED': 2,
      'valid -> accepted': 7,
    },
  },
  {
    file: 'wycheproof/testvectors_v1/rsa_signature_2048_sha512_test.json',
    alg: 'RS512',
    total: 259,
    tally: {
      'acceptable -> ERR_JWT_SIGNATURE_INVALID': 1,
      'invalid -> ERR_JWT_SIGNATURE_INVALID': 248,
      'invalid -> ERR_JWT_SIGNATURE_MALFORMED': 2,
      'valid -> accepted': 8,
    },
  },
] as const;

describe.each(FILES)('Wycheproof RSASSA-PKCS1-v1_5 $alg', ({ file, alg, total, tally }) => {
  const vectors = readVectorJson(file) as WycheproofFile<SignatureGroup>;
  const report = runSignatureFile(vectors, {
    algorithmOf: (group) => {
      // RFC 7518 §3.3: a key of 2048 bits or more.
      if ((group.keySize ?? 0) < 2048) return { excluded: 'RSA key under 2048 bits (RFC 7518 §3.3)' };
      const mapped = HASH_TO_ALG[group.sha ?? ''];
      return mapped === undefined ? { excluded: 'hash without an RS* algorithm' } : { alg: mapped };
    },
    // RFC 8017 §8.2.2 step 1: the signature is exactly k = modulus-length bytes.
    isMalformed: (signature, group) => signature.length !== (group.keySize ?? 0) / 8,
  });

  it('runs every vector (every group is a 2048-bit key: nothing excluded)', () => {
    expect(report.exclusions).toEqual([]);
    expect(report.runs).toHaveLength(total);
    expect(vectors.numberOfTests).toBe(total);
    expect(new Set(report.runs.map((r) => r.alg))).toEqual(new Set([alg]));
  });

  it('accepts every valid signature and refuses every invalid one with the expected code', () => {
    expect(report.mismatches).toEqual([]);
    expect(report.tally).toEqual(tally);
  });

  it('refuses the legacy "missing NULL" encoding Wycheproof calls acceptable', () => {
    // RFC 8017 §9.2 note 1 allows only DigestInfo with NULL parameters; OpenSSL refuses the
    // legacy form, so guard does too (recorded, not required).
    const acceptable = report.runs.filter((r) => r.result === 'acceptable');
    expect(acceptable.map((r) => [r.flags, r.outcome])).toEqual([
      [['MissingNull'], { accepted: false, code: 'ERR_JWT_SIGNATURE_INVALID' }],
    ]);
  });

  it('refuses signatures that are not exactly the modulus length as ERR_JWT_SIGNATURE_MALFORMED', () => {
    const wrongSize = report.runs.filter((r) => r.expectedCode === MALFORMED);
    expect(wrongSize.length).toBeGreaterThan(0);
    for (const r of wrongSize)
      expect(r.outcome, `tcId ${r.tcId}`).toEqual({ accepted: false, code: MALFORMED });
  });
});

import { describe, expect, it } from 'vitest';
import { ALGORITHMS, type Algorithm } from '../../src/jws/algorithms.js';
import { MALFORMED, runSignatureFile, runsFlagged } from '../helpers/vectors-signature.js';
import { readVectorJson, type SignatureGroup, type WycheproofFile } from '../helpers/vectors-wycheproof.js';

/** Wycheproof RSASSA-PSS vectors (RFC 7518 §3.5, PS256/PS384) through guard. */
const HASH_TO_ALG: Readonly<Record<string, Algorithm>> = {
  'SHA-256': 'PS256',
  'SHA-384': 'PS384',
  'SHA-512': 'PS512',
};

const FILES = [
  {
    file: 'wycheproof/testvectors_v1/rsa_pss_2048_sha256_mgf1_32_test.json',
    alg: 'PS256',
    total: 108,
    tally: {
      'invalid -> ERR_JWT_SIGNATURE_INVALID': 40,
      'invalid -> ERR_JWT_SIGNATURE_MALFORMED': 5,
      'valid -> accepted': 63,
    },
  },
  {
    file: 'wycheproof/testvectors_v1/rsa_pss_2048_sha384_mgf1_48_test.json',
    alg: 'PS384',
    total: 141,
    tally: {
      'invalid -> ERR_JWT_SIGNATURE_INVALID': 41,
      'invalid -> ERR_JWT_SIGNATURE_MALFORMED': 5,
      'valid -> accepted': 95,
    },
  },
] as const;

describe.each(FILES)('Wycheproof RSASSA-PSS $alg', ({ file, alg, total, tally }) => {
  const vectors = readVectorJson(file) as WycheproofFile<SignatureGroup>;
  const report = runSignatureFile(vectors, {
    algorithmOf: (group) => {
      if ((group.keySize ?? 0) < 2048) return { excluded: 'RSA key under 2048 bits (RFC 7518 §3.3)' };
      const mapped = HASH_TO_ALG[group.sha ?? ''];
      if (mapped === undefined) return { excluded: 'hash without a PS* algorithm' };
      // RFC 7518 §3.5: MGF1 with the same hash, and a salt exactly as long as the hash.
      if (group.mgf !== 'MGF1' || group.mgfSha !== group.sha)
        return { excluded: 'MGF is not MGF1 with the same hash' };
      if (group.sLen !== ALGORITHMS[mapped].hashBytes)
        return { excluded: 'salt length differs from the hash length' };
      return { alg: mapped };
    },
    isMalformed: (signature, group) => signature.length !== (group.keySize ?? 0) / 8,
  });

  it('runs every vector (the files pinned here hold only RFC 7518 §3.5 parameters: nothing excluded)', () => {
    expect(report.exclusions).toEqual([]);
    expect(report.runs).toHaveLength(total);
    expect(vectors.numberOfTests).toBe(total);
    expect(new Set(report.runs.map((r) => r.alg))).toEqual(new Set([alg]));
  });

  it('accepts every valid signature and refuses every invalid one with the expected code', () => {
    expect(report.mismatches).toEqual([]);
    expect(report.tally).toEqual(tally);
  });

  it('refuses a PKCS #1 v1.5 signature presented as PSS (one scheme per key use)', () => {
    const wrong = runsFlagged(report, 'WrongPrimitive');
    expect(wrong.length).toBeGreaterThan(0);
    for (const r of wrong) expect(r.outcome.accepted, `tcId ${r.tcId}`).toBe(false);
  });

  it('refuses signatures that are not exactly the modulus length as ERR_JWT_SIGNATURE_MALFORMED', () => {
    for (const r of report.runs.filter((run) => run.expectedCode === MALFORMED)) {
      expect(r.outcome, `tcId ${r.tcId}`).toEqual({ accepted: false, code: MALFORMED });
    }
  });
});

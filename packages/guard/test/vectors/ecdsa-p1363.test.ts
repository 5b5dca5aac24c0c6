import { describe, expect, it } from 'vitest';
import type { Algorithm } from '../../src/jws/algorithms.js';
import {
  MALFORMED,
  runSignatureFile,
  runsFlagged,
  type SignatureReport,
} from '../helpers/vectors-signature.js';
import {
  readVectorJson,
  toBigInt,
  type SignatureGroup,
  type WycheproofFile,
} from '../helpers/vectors-wycheproof.js';

/**
 * Wycheproof ECDSA vectors in IEEE P1363 form (R‖S), the JWS encoding of RFC 7518 §3.4, through
 * guard's `importJwk` + `verifySignature`. Group orders are SEC 2 §2.4.2, §2.5.1, §2.6.1, kept here
 * independently of the source so the MALFORMED oracle is not the code under test.
 */
const CURVES = {
  secp256r1: {
    alg: 'ES256',
    sha: 'SHA-256',
    order: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    bytes: 32,
  },
  secp384r1: {
    alg: 'ES384',
    sha: 'SHA-384',
    order:
      0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    bytes: 48,
  },
  secp521r1: {
    alg: 'ES512',
    sha: 'SHA-512',
    order:
      0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
    bytes: 66,
  },
} as const satisfies Record<string, { alg: Algorithm; sha: string; order: bigint; bytes: number }>;

type Curve = keyof typeof CURVES;

function curveOf(group: SignatureGroup): (typeof CURVES)[Curve] | undefined {
  const name = group.publicKey?.curve;
  return name !== undefined && Object.hasOwn(CURVES, name) ? CURVES[name as Curve] : undefined;
}

function run(file: string): SignatureReport {
  return runSignatureFile(readVectorJson(file) as WycheproofFile<SignatureGroup>, {
    algorithmOf: (group) => {
      const curve = curveOf(group);
      // RFC 7518 §3.4: each ES* algorithm fixes both the curve and the hash.
      if (curve === undefined || group.sha !== curve.sha)
        return { excluded: 'curve/hash pair not in RFC 7518 §3.4' };
      return { alg: curve.alg };
    },
    isMalformed: (signature, group) => {
      const { order, bytes } = curveOf(group) as (typeof CURVES)[Curve];
      if (signature.length !== 2 * bytes) return true;
      const r = toBigInt(signature.subarray(0, bytes));
      const s = toBigInt(signature.subarray(bytes));
      // SEC 1 §4.1.4 step 1: r and s in [1, n-1].
      return r < 1n || r >= order || s < 1n || s >= order;
    },
  });
}

const FILES = [
  {
    file: 'wycheproof/testvectors_v1/ecdsa_secp256r1_sha256_p1363_test.json',
    alg: 'ES256',
    total: 252,
    tally: {
      'invalid -> ERR_JWT_SIGNATURE_INVALID': 13,
      'invalid -> ERR_JWT_SIGNATURE_MALFORMED': 70,
      'valid -> accepted': 169,
    },
  },
  {
    file: 'wycheproof/testvectors_v1/ecdsa_secp384r1_sha384_p1363_test.json',
    alg: 'ES384',
    total: 270,
    tally: {
      'invalid -> ERR_JWT_SIGNATURE_INVALID': 13,
      'invalid -> ERR_JWT_SIGNATURE_MALFORMED': 68,
      'valid -> accepted': 189,
    },
  },
  {
    file: 'wycheproof/testvectors_v1/ecdsa_secp521r1_sha512_p1363_test.json',
    alg: 'ES512',
    total: 308,
    tally: {
      'invalid -> ERR_JWT_SIGNATURE_INVALID': 13,
      'invalid -> ERR_JWT_SIGNATURE_MALFORMED': 68,
      'valid -> accepted': 227,
    },
  },
] as const;

describe.each(FILES)('Wycheproof ECDSA P1363 $alg', ({ file, alg, total, tally }) => {
  const report = run(file);

  it('runs every vector (no group excluded: each file is one RFC 7518 §3.4 curve/hash pair)', () => {
    expect(report.exclusions).toEqual([]);
    expect(report.runs).toHaveLength(total);
    expect(new Set(report.runs.map((r) => r.alg))).toEqual(new Set([alg]));
  });

  it('accepts every valid signature and refuses every invalid one with the expected code', () => {
    expect(report.mismatches).toEqual([]);
    expect(report.tally).toEqual(tally);
  });

  it('refuses wrong sizes and r/s outside [1, n-1] as ERR_JWT_SIGNATURE_MALFORMED before the curve math', () => {
    // CVE-2022-21449 (r = s = 0) and the range-check family are among these.
    for (const flag of ['SignatureSize', 'InvalidSignature', 'RangeCheck']) {
      const flagged = runsFlagged(report, flag).filter((r) => r.expectedCode === MALFORMED);
      expect(flagged.length, flag).toBeGreaterThan(0);
      for (const r of flagged)
        expect(r.outcome, `tcId ${r.tcId}`).toEqual({ accepted: false, code: MALFORMED });
    }
    expect(runsFlagged(report, 'SignatureSize').every((r) => r.expectedCode === MALFORMED)).toBe(true);
  });
});

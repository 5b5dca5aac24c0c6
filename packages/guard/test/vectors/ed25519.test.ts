import { describe, expect, it } from 'vitest';
import { MALFORMED, runSignatureFile, runsFlagged } from '../helpers/vectors-signature.js';
import { readVectorJson, type SignatureGroup, type WycheproofFile } from '../helpers/vectors-wycheproof.js';

/**
 * Wycheproof Ed25519 vectors through guard's `importJwk` + `verifySignature`, under both JOSE
 * names: `EdDSA` (RFC 8037 §3.1) and the fully specified `Ed25519` (RFC 9864 §2).
 */
const file = readVectorJson('wycheproof/testvectors_v1/ed25519_test.json') as WycheproofFile<SignatureGroup>;

describe.each(['EdDSA', 'Ed25519'] as const)('Wycheproof Ed25519 as %s', (alg) => {
  const report = runSignatureFile(file, {
    algorithmOf: (group) =>
      group.publicKey?.curve === 'edwards25519' ? { alg } : { excluded: 'not an Ed25519 key' },
    // RFC 8032 §5.1.7: a signature is exactly 64 bytes; anything else is refused before the math.
    isMalformed: (signature) => signature.length !== 64,
  });

  it('runs every vector', () => {
    expect(report.exclusions).toEqual([]);
    expect(report.runs).toHaveLength(file.numberOfTests);
    expect(file.numberOfTests).toBe(150);
  });

  it('accepts every valid signature and refuses every invalid one with the expected code', () => {
    expect(report.mismatches).toEqual([]);
    expect(report.tally).toEqual({
      'invalid -> ERR_JWT_SIGNATURE_INVALID': 50,
      'invalid -> ERR_JWT_SIGNATURE_MALFORMED': 12,
      'valid -> accepted': 88,
    });
  });

  it('refuses truncated signatures and signatures with garbage as ERR_JWT_SIGNATURE_MALFORMED', () => {
    for (const flag of ['TruncatedSignature', 'SignatureWithGarbage']) {
      const flagged = runsFlagged(report, flag);
      expect(flagged.length, flag).toBeGreaterThan(0);
      for (const r of flagged)
        expect(r.outcome, `tcId ${r.tcId}`).toEqual({ accepted: false, code: MALFORMED });
    }
  });

  it('refuses the malleable S ≥ L forms (RFC 8032 §5.1.7 step 1)', () => {
    const malleable = runsFlagged(report, 'SignatureMalleability');
    expect(malleable.length).toBeGreaterThan(0);
    for (const r of malleable) expect(r.outcome.accepted, `tcId ${r.tcId}`).toBe(false);
  });
});

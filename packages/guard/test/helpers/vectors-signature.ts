import { createPublicKey } from 'node:crypto';
import type { Algorithm } from '../../src/jws/algorithms.js';
import { verifySignature } from '../../src/jws/verify-signature.js';
import { importJwk } from '../../src/jwks/import-jwk.js';
import {
  describeOutcome,
  hex,
  outcomeOf,
  tally,
  type Outcome,
  type SignatureGroup,
  type SignatureTest,
  type WycheproofFile,
  type WycheproofResult,
} from './vectors-wycheproof.js';

export const INVALID = 'ERR_JWT_SIGNATURE_INVALID';
export const MALFORMED = 'ERR_JWT_SIGNATURE_MALFORMED';

/** The JOSE algorithm a group maps to, or why JOSE does not allow the group's parameters. */
export type GroupAlgorithm = { readonly alg: Algorithm } | { readonly excluded: string };

export interface SignatureFamily {
  /** Maps the group's curve / hash / padding parameters to a JOSE algorithm (RFC 7518 §3). */
  readonly algorithmOf: (group: SignatureGroup) => GroupAlgorithm;
  /**
   * Independent oracle: whether the signature bytes break the encoding rules guard checks before
   * the crypto (size, ECDSA r/s range), so the refusal must be ERR_JWT_SIGNATURE_MALFORMED.
   */
  readonly isMalformed: (signature: Buffer, group: SignatureGroup) => boolean;
}

export interface SignatureRun {
  readonly tcId: number;
  readonly comment: string;
  readonly flags: readonly string[];
  readonly result: WycheproofResult;
  readonly alg: Algorithm;
  readonly outcome: Outcome;
  /** The code an invalid vector must be refused with (from `isMalformed`). */
  readonly expectedCode: string;
}

export interface Exclusion {
  readonly reason: string;
  readonly tests: number;
}

export interface SignatureReport {
  readonly runs: readonly SignatureRun[];
  readonly exclusions: readonly Exclusion[];
  /** Vectors where guard disagrees with Wycheproof (or with the oracle): must be empty. */
  readonly mismatches: readonly string[];
  /** `result -> outcome` counts, e.g. `valid -> accepted`, `invalid -> ERR_JWT_SIGNATURE_INVALID`. */
  readonly tally: Record<string, number>;
}

function mismatchOf(run: SignatureRun, malformed: boolean): string | undefined {
  const seen = describeOutcome(run.outcome);
  const where = `tcId ${run.tcId} (${run.alg}, ${run.comment || run.flags.join(',')})`;
  switch (run.result) {
    case 'valid':
      if (malformed) return `${where}: valid vector but the oracle calls it malformed`;
      return run.outcome.accepted ? undefined : `${where}: valid signature refused with ${seen}`;
    case 'invalid':
      if (run.outcome.accepted) return `${where}: invalid signature accepted`;
      return run.outcome.code === run.expectedCode
        ? undefined
        : `${where}: expected ${run.expectedCode}, got ${seen}`;
    case 'acceptable':
      return run.outcome.accepted || run.outcome.code === INVALID || run.outcome.code === MALFORMED
        ? undefined
        : `${where}: acceptable vector refused with ${seen}`;
  }
}

/**
 * Runs every test of a Wycheproof signature file through guard: the group's public JWK through
 * `importJwk` (checked against the DER key), then `verifySignature` for each message/signature.
 */
export function runSignatureFile(
  file: WycheproofFile<SignatureGroup>,
  family: SignatureFamily,
): SignatureReport {
  const runs: SignatureRun[] = [];
  const exclusions: Exclusion[] = [];
  const mismatches: string[] = [];
  for (const group of file.testGroups) {
    const mapped = family.algorithmOf(group);
    if ('excluded' in mapped) {
      exclusions.push({ reason: mapped.excluded, tests: group.tests.length });
      continue;
    }
    const { alg } = mapped;
    const jwk = group.publicKeyJwk ?? group.keyJwk;
    const imported = importJwk(jwk, new Set([alg]));
    if (!imported.ok) {
      mismatches.push(
        `group of tcId ${String(group.tests[0]?.tcId)}: importJwk refused (${imported.reason})`,
      );
      continue;
    }
    const der = createPublicKey({ key: hex(group.publicKeyDer), format: 'der', type: 'spki' });
    if (!imported.record.key.equals(der)) {
      mismatches.push(`group of tcId ${String(group.tests[0]?.tcId)}: JWK and DER keys differ`);
      continue;
    }
    for (const test of group.tests)
      runs.push(runOne(test, group, alg, imported.record.key, family, mismatches));
  }
  return {
    runs,
    exclusions,
    mismatches,
    tally: tally(runs.map((run) => `${run.result} -> ${describeOutcome(run.outcome)}`)),
  };
}

function runOne(
  test: SignatureTest,
  group: SignatureGroup,
  alg: Algorithm,
  key: Parameters<typeof verifySignature>[1],
  family: SignatureFamily,
  mismatches: string[],
): SignatureRun {
  const signature = hex(test.sig);
  const malformed = family.isMalformed(signature, group);
  const run: SignatureRun = {
    tcId: test.tcId,
    comment: test.comment,
    flags: test.flags,
    result: test.result,
    alg,
    outcome: outcomeOf(() => {
      verifySignature(alg, key, hex(test.msg), signature);
    }),
    expectedCode: malformed ? MALFORMED : INVALID,
  };
  const mismatch = mismatchOf(run, malformed);
  if (mismatch !== undefined) mismatches.push(mismatch);
  return run;
}

/** Runs whose outcome is listed, for "these flags must give that code" assertions. */
export function runsFlagged(report: SignatureReport, flag: string): readonly SignatureRun[] {
  return report.runs.filter((run) => run.flags.includes(flag));
}

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isGuardError } from '../../src/errors.js';

/** The repo copies of the public vectors (never ../shared: see fixtures/vectors/PROVENANCE.md). */
export const VECTORS_DIR = fileURLToPath(new URL('../fixtures/vectors/', import.meta.url));

export function readVectorBytes(relativePath: string): Buffer {
  return readFileSync(new URL(relativePath, new URL('../fixtures/vectors/', import.meta.url)));
}

/** Parsed JSON of a vector file; callers state the shape they rely on. */
export function readVectorJson(relativePath: string): unknown {
  return JSON.parse(readVectorBytes(relativePath).toString('utf8'));
}

export type WycheproofResult = 'valid' | 'invalid' | 'acceptable';

/** One Wycheproof file: `numberOfTests` is what the generator wrote, checked against what ran. */
export interface WycheproofFile<G> {
  readonly algorithm?: string;
  readonly numberOfTests: number;
  readonly testGroups: readonly G[];
}

/** A signature test (EcdsaP1363Verify, EddsaVerify, RsassaPkcs1Verify, RsassaPssVerify). */
export interface SignatureTest {
  readonly tcId: number;
  readonly comment: string;
  readonly flags: readonly string[];
  readonly msg: string;
  readonly sig: string;
  readonly result: WycheproofResult;
}

export interface SignatureGroup {
  readonly type: string;
  readonly sha?: string;
  readonly keySize?: number;
  readonly mgf?: string;
  readonly mgfSha?: string;
  readonly sLen?: number;
  /** ECDSA and EdDSA groups name the curve here. */
  readonly publicKey?: { readonly curve?: string };
  readonly publicKeyDer: string;
  /** ECDSA, EdDSA and PSS files. */
  readonly publicKeyJwk?: Record<string, unknown>;
  /** PKCS #1 v1.5 files name their public JWK `keyJwk`. */
  readonly keyJwk?: Record<string, unknown>;
  readonly tests: readonly SignatureTest[];
}

export interface MacTest {
  readonly tcId: number;
  readonly comment: string;
  readonly flags: readonly string[];
  readonly key: string;
  readonly msg: string;
  readonly tag: string;
  readonly result: WycheproofResult;
}

export interface MacGroup {
  readonly type: string;
  readonly keySize: number;
  readonly tagSize: number;
  readonly tests: readonly MacTest[];
}

/** What guard did with one vector: accepted, or refused with a stable GuardError code. */
export type Outcome = { readonly accepted: true } | { readonly accepted: false; readonly code: string };

/** Runs `fn`; a GuardError becomes a refusal, anything else (a crash) fails the test. */
export function outcomeOf(fn: () => void): Outcome {
  try {
    fn();
    return { accepted: true };
  } catch (err) {
    if (isGuardError(err)) return { accepted: false, code: err.code };
    throw err;
  }
}

export async function outcomeOfAsync(fn: () => Promise<void>): Promise<Outcome> {
  try {
    await fn();
    return { accepted: true };
  } catch (err) {
    if (isGuardError(err)) return { accepted: false, code: err.code };
    throw err;
  }
}

export const describeOutcome = (outcome: Outcome): string => (outcome.accepted ? 'accepted' : outcome.code);

/** Counts per label, sorted by label, so a tally compares with `toEqual` and prints readably. */
export function tally(labels: Iterable<string>): Record<string, number> {
  const counts = new Map<string, number>();
  for (const label of labels) counts.set(label, (counts.get(label) ?? 0) + 1);
  return Object.fromEntries([...counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

export const hex = (value: string): Buffer => Buffer.from(value, 'hex');

/** Big-endian unsigned integer of a byte string (empty is 0). */
export function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

import { createHash } from 'node:crypto';
import { GatehouseError } from '@gatehouse/core';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { GuardError, fail, isGuardError } from '../errors.js';
import { DEFAULT_ALGORITHMS, isAlgorithm, isSymmetric, type AsymmetricAlgorithm } from '../jws/algorithms.js';
import { checkHeader, type HeaderPolicy } from '../jws/check-header.js';
import { parseCompactJws } from '../jws/parse-compact.js';
import { verifySignature } from '../jws/verify-signature.js';
import { importJwk } from '../jwks/import-jwk.js';
import { equalsConstantTime } from '../lib/constant-time.js';
import { parseJsonObject } from '../lib/strict-json.js';
import { normalizeHtu } from './normalize-htu.js';
import { MemoryReplayStore, type ReplayStore } from './replay-store.js';

export interface DpopOptions {
  /** Proof algorithms (asymmetric only); default ES256, EdDSA, RS256, PS256. */
  readonly algorithms?: readonly AsymmetricAlgorithm[];
  /** Where seen `jti`s go; default an in-process store (use a shared one with several instances). */
  readonly replayStore?: ReplayStore;
  /** Oldest acceptable proof, by `iat` (default 60 s). */
  readonly maxAgeSec?: number;
  /** How far in the future `iat` may be (default 5 s). */
  readonly clockToleranceSec?: number;
  /** Refuse longer proofs before parsing (default 4096). */
  readonly maxProofBytes?: number;
  readonly now?: () => number;
}

export interface DpopRequest {
  /** HTTP method, as sent (RFC 9110 §9.1: case-sensitive). */
  readonly method: string;
  /** Absolute URI of the request as the client addressed it. */
  readonly url: string;
}

export interface VerifiedDpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof key: compare with `cnf.jkt`. */
  readonly jkt: string;
  readonly jti: string;
  readonly iat: number;
}

export interface DpopVerifier {
  /** RFC 9449 §4.3 checks; with `accessToken`, also `ath` (§4.2). Throws `GuardError` (ERR_DPOP_*). */
  verify(proof: string, request: DpopRequest, accessToken?: string): Promise<VerifiedDpopProof>;
  readonly algorithms: readonly AsymmetricAlgorithm[];
}

const MAX_JTI_LENGTH = 256;

function checkOptions(options: DpopOptions): string[] {
  const problems: string[] = [];
  const algorithms = options.algorithms ?? DEFAULT_ALGORITHMS;
  if (algorithms.length === 0) problems.push('dpop.algorithms: at least one required');
  for (const alg of algorithms) {
    if (!isAlgorithm(alg) || isSymmetric(alg))
      problems.push(`dpop.algorithms: ${String(alg)} is not an asymmetric algorithm`);
  }
  for (const name of ['maxAgeSec', 'clockToleranceSec', 'maxProofBytes'] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isFinite(value) && value >= 0))
      problems.push(`dpop.${name}: a non-negative number`);
  }
  return problems;
}

/** Runs a step and reports any structural refusal as an invalid proof, keeping the cause in `detail`. */
function asProofError<T>(step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (isGuardError(err) && !err.code.startsWith('ERR_DPOP_')) {
      throw new GuardError('ERR_DPOP_PROOF_INVALID', { detail: err.code });
    }
    throw err;
  }
}

/** Creates a DPoP proof verifier (RFC 9449) for resource servers and the token endpoint. */
export function createDpopVerifier(options: DpopOptions = {}): DpopVerifier {
  const problems = checkOptions(options);
  if (problems.length > 0) throw new GatehouseError('ERR_CONFIG_INVALID', { detail: problems.join('; ') });
  const algorithms = options.algorithms ?? DEFAULT_ALGORITHMS;
  const allowed = new Set<AsymmetricAlgorithm>(algorithms);
  const replayStore = options.replayStore ?? new MemoryReplayStore(options.now ? { now: options.now } : {});
  const maxAgeSec = options.maxAgeSec ?? 60;
  const toleranceSec = options.clockToleranceSec ?? 5;
  const maxProofBytes = options.maxProofBytes ?? 4096;
  const now = options.now ?? Date.now;
  // RFC 9449 §4.2: typ dpop+jwt, an asymmetric alg and the public key in `jwk`.
  const headerPolicy: HeaderPolicy = {
    algorithms: allowed,
    keyMode: 'asymmetric',
    typ: 'dpop+jwt',
    allowJwkHeader: true,
  };

  async function verify(
    proof: string,
    request: DpopRequest,
    accessToken?: string,
  ): Promise<VerifiedDpopProof> {
    if (typeof proof !== 'string' || proof.length === 0 || proof.length > maxProofBytes) {
      fail('ERR_DPOP_PROOF_INVALID', 'size');
    }
    const { claims, jwk } = asProofError(() => {
      const jws = parseCompactJws(proof);
      const alg = checkHeader(jws.header, headerPolicy) as AsymmetricAlgorithm;
      const imported = importJwk(jws.header['jwk'], new Set([alg]));
      if (!imported.ok) return fail('ERR_DPOP_PROOF_INVALID', `jwk: ${imported.reason}`);
      verifySignature(alg, imported.record.key, jws.signingInput, jws.signature);
      return { claims: parseJsonObject(jws.payload), jwk: jws.header['jwk'] as JWK };
    });

    const { jti, htm, htu, iat, ath } = claims;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH)
      fail('ERR_DPOP_PROOF_INVALID', 'jti');
    if (typeof htm !== 'string' || typeof htu !== 'string') fail('ERR_DPOP_PROOF_INVALID', 'htm/htu');
    if (typeof iat !== 'number' || !Number.isSafeInteger(iat)) fail('ERR_DPOP_PROOF_INVALID', 'iat');

    if (htm !== request.method) fail('ERR_DPOP_HTM_MISMATCH');
    const expected = normalizeHtu(request.url);
    if (expected === undefined || normalizeHtu(htu) !== expected) fail('ERR_DPOP_HTU_MISMATCH');

    const nowSec = now() / 1000;
    if (iat < nowSec - maxAgeSec || iat > nowSec + toleranceSec) fail('ERR_DPOP_IAT_INVALID');

    if (accessToken !== undefined) {
      // RFC 9449 §4.2: ath = base64url(SHA-256(ASCII(access token))).
      const expectedAth = createHash('sha256').update(accessToken, 'ascii').digest('base64url');
      if (typeof ath !== 'string' || !equalsConstantTime(ath, expectedAth)) fail('ERR_DPOP_ATH_MISMATCH');
    }

    const jkt = await calculateJwkThumbprint(jwk, 'sha256');
    // Last, so a proof that fails any other check does not use up its jti (RFC 9449 §11.1).
    const fresh = await replayStore.checkAndRemember(
      `dpop:${jkt}:${jti}`,
      (iat + maxAgeSec + toleranceSec) * 1000,
    );
    if (!fresh) fail('ERR_DPOP_REPLAYED');
    return { jkt, jti, iat };
  }

  return { verify, algorithms: Object.freeze([...algorithms]) };
}

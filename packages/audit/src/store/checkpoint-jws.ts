import type { KeyObject } from 'node:crypto';
import { compactVerify, decodeProtectedHeader, type JWK } from 'jose';

/**
 * `typ` of a checkpoint JWS (RFC 7515 §4.1.9). Explicit typing (RFC 8725 §3.11) keeps a checkpoint
 * and a token signed by the same key from ever passing for one another.
 */
export const CHECKPOINT_TYP = 'gatehouse-audit-checkpoint';

/** Asymmetric JWS algorithms (RFC 7518 §3, RFC 8037): a checkpoint proves who signed it. */
export const CHECKPOINT_ALGORITHMS: readonly string[] = [
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

/** The JWS payload of a checkpoint: the chain head it vouches for and when it was signed. */
export interface AuditCheckpointPayload {
  readonly seq: number;
  readonly hash: string;
  /** ISO 8601 in UTC. */
  readonly time: string;
}

/**
 * Signs a checkpoint as a compact JWS with `typ` in the protected header and its `kid`, and says
 * which key signed. The auth server's `KeyService.sign(payload, typ)` has exactly this shape, so
 * it is passed as it is; `createAuditJwsSigner` adapts a raw key (HSM, KMS, a key file).
 */
export interface AuditSigner {
  sign(payload: Readonly<Record<string, unknown>>, typ: string): Promise<{ jwt: string; kid: string }>;
}

/** A key that signs bytes: `alg` is a JWS algorithm, the signature in JWS form (RFC 7518 §3). */
export interface RawAuditSigner {
  readonly kid: string;
  readonly alg: string;
  /** ECDSA signatures are IEEE P1363 `r || s` (node:crypto `dsaEncoding: 'ieee-p1363'`), RFC 7518 §3.4. */
  sign(signingInput: Buffer): Promise<Buffer>;
}

const b64 = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

/** A checkpoint signer over a raw key: builds the JWS signing input (RFC 7515 §5.1) around it. */
export function createAuditJwsSigner(raw: RawAuditSigner): AuditSigner {
  if (!CHECKPOINT_ALGORITHMS.includes(raw.alg)) {
    throw new TypeError(`checkpoint signer: ${raw.alg} is not an asymmetric JWS algorithm`);
  }
  return {
    async sign(payload, typ) {
      const input = `${b64(JSON.stringify({ alg: raw.alg, typ, kid: raw.kid }))}.${b64(JSON.stringify(payload))}`;
      const signature = await raw.sign(Buffer.from(input, 'ascii'));
      return { jwt: `${input}.${b64(signature)}`, kid: raw.kid };
    },
  };
}

/** The checkpoint a key is asked for: a resolver may refuse a key for it (a compromised key). */
export interface CheckpointKeyContext {
  readonly seq: number;
  /** The checkpoint row's `created_at` (epoch ms). */
  readonly createdAt: number;
  /** The `time` of the signed payload (epoch ms), when it decodes. */
  readonly signedAt: number | undefined;
}

/**
 * Resolves the public key of a `kid` (retired keys included); undefined for an unknown kid, or for
 * a key not trusted for this checkpoint (revoked as compromised before it was created).
 */
export type AuditKeyResolver = (
  kid: string,
  checkpoint?: CheckpointKeyContext,
) => KeyObject | JWK | undefined | Promise<KeyObject | JWK | undefined>;

export type CheckpointCheck =
  | { readonly ok: true; readonly payload: AuditCheckpointPayload }
  | { readonly ok: false; readonly why: string };

/** The payload of a checkpoint JWS, or undefined when it is not one (nothing is verified). */
export function decodeCheckpointPayload(jws: string): AuditCheckpointPayload | undefined {
  const parts = jws.split('.');
  if (parts.length !== 3) return undefined;
  try {
    return checkPayload(JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8')));
  } catch {
    return undefined;
  }
}

/** The protected header's `kid` and `typ` and `alg`, or undefined when the JWS is malformed. */
export function decodeCheckpointHeader(jws: string): Readonly<Record<string, unknown>> | undefined {
  try {
    return decodeProtectedHeader(jws);
  } catch {
    return undefined;
  }
}

function checkPayload(value: unknown): AuditCheckpointPayload | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { seq, hash, time } = value as Record<string, unknown>;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return undefined;
  if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) return undefined;
  if (typeof time !== 'string') return undefined;
  return { seq, hash, time };
}

/**
 * Verifies a stored checkpoint: a compact JWS of type CHECKPOINT_TYP, signed with an asymmetric
 * algorithm by the key its `kid` column names, whose payload is a checkpoint. The reasons are
 * fixed phrases: never key material.
 */
export async function verifyCheckpointJws(
  jws: string,
  kid: string,
  resolveKey: AuditKeyResolver,
  checkpoint?: { readonly seq: number; readonly createdAt: number },
): Promise<CheckpointCheck> {
  const header = decodeCheckpointHeader(jws);
  if (header === undefined) return { ok: false, why: 'not a compact JWS' };
  if (header['typ'] !== CHECKPOINT_TYP) return { ok: false, why: 'JWS typ is not a checkpoint' };
  if (header['kid'] !== kid) return { ok: false, why: 'JWS kid differs from the kid column' };
  if (typeof header['alg'] !== 'string' || !CHECKPOINT_ALGORITHMS.includes(header['alg'])) {
    return { ok: false, why: 'JWS algorithm not allowed' };
  }
  let key: KeyObject | JWK | undefined;
  if (checkpoint === undefined) key = await resolveKey(kid);
  else {
    const time = decodeCheckpointPayload(jws)?.time;
    const signedAt = time === undefined ? undefined : Date.parse(time);
    key = await resolveKey(kid, {
      ...checkpoint,
      signedAt: signedAt === undefined || Number.isNaN(signedAt) ? undefined : signedAt,
    });
  }
  if (key === undefined) return { ok: false, why: `no public key for kid ${kid}` };
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(jws, key, { algorithms: [...CHECKPOINT_ALGORITHMS] }));
  } catch {
    return { ok: false, why: 'signature does not verify' };
  }
  let decoded: AuditCheckpointPayload | undefined;
  try {
    decoded = checkPayload(JSON.parse(Buffer.from(payload).toString('utf8')));
  } catch {
    decoded = undefined;
  }
  return decoded === undefined
    ? { ok: false, why: 'payload is not a checkpoint' }
    : { ok: true, payload: decoded };
}

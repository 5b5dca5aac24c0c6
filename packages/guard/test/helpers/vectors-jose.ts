import type { Algorithm } from '../../src/jws/algorithms.js';
import { isAlgorithm } from '../../src/jws/algorithms.js';
import { checkHeader } from '../../src/jws/check-header.js';
import { parseCompactJws } from '../../src/jws/parse-compact.js';
import { verifySignature } from '../../src/jws/verify-signature.js';
import type { KeySource } from '../../src/jwks/key-source.js';
import { createSecretKeySource, createStaticKeySource } from '../../src/jwks/static-key-set.js';
import type { GuardEvent } from '../../src/events.js';
import type { WycheproofResult } from './vectors-wycheproof.js';

export type Jwk = Readonly<Record<string, unknown>>;

export interface JoseTest {
  readonly tcId: number;
  readonly comment: string;
  readonly jws: string;
  readonly result: WycheproofResult;
  readonly flags: readonly string[];
}

// RFC 7518 §6.2.2, §6.3.2: the members that make a JWK private.
const PRIVATE_MEMBERS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);

/** The public half of a JWK: what an issuer publishes in its key set. */
export function publicHalf(jwk: Jwk): Jwk {
  return Object.fromEntries(Object.entries(jwk).filter(([name]) => !PRIVATE_MEMBERS.has(name)));
}

const FAMILY_ALGORITHMS: Readonly<Record<string, readonly Algorithm[]>> = {
  EC: ['ES256', 'ES384', 'ES512'],
  RSA: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
  OKP: ['EdDSA', 'Ed25519'],
  oct: ['HS256', 'HS384', 'HS512'],
};

/**
 * The verifier allowlist for a key: its own `alg` when it has one (RFC 7517 §4.4; an unknown name
 * allows nothing), else every algorithm of its key type.
 */
export function algorithmsForKey(jwk: Jwk): ReadonlySet<Algorithm> {
  const alg = jwk['alg'];
  if (typeof alg === 'string') return new Set(isAlgorithm(alg) ? [alg] : []);
  return new Set(FAMILY_ALGORITHMS[String(jwk['kty'])] ?? []);
}

export interface JwsLayerOptions {
  readonly algorithms: ReadonlySet<Algorithm>;
  readonly keyMode: 'asymmetric' | 'symmetric';
  readonly keys: KeySource;
}

/**
 * What `createVerifier` does up to and including the signature (parse, header rules, key
 * selection, signature), with `typ: null`; returns the verified payload bytes.
 */
export async function verifyJwsLayer(token: string, options: JwsLayerOptions): Promise<Buffer> {
  const jws = parseCompactJws(token);
  const alg = checkHeader(jws.header, {
    algorithms: options.algorithms,
    keyMode: options.keyMode,
    typ: null,
  });
  const record = await options.keys.select(alg, jws.header['kid'] as string | undefined);
  verifySignature(alg, record.key, jws.signingInput, jws.signature);
  return jws.payload;
}

/** A key source for a JWK: a static key set for public keys, the shared secret for `oct`. */
export function keySourceFor(
  jwk: Jwk,
  algorithms: ReadonlySet<Algorithm>,
  events: GuardEvent[] = [],
): KeySource {
  if (jwk['kty'] === 'oct') return createSecretKeySource(Buffer.from(String(jwk['k']), 'base64url'));
  return createStaticKeySource({ keys: [jwk] }, algorithms, (event) => events.push(event));
}

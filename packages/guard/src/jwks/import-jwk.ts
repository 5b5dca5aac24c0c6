import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { isAlgorithm, isSymmetric, keyFitsAlgorithm, type Algorithm } from '../jws/algorithms.js';

/** A verification key from a key set, imported once and reused for every token. */
export interface KeyRecord {
  readonly kid: string | undefined;
  /** The JWK's own `alg`, which then is the only algorithm the key verifies (RFC 7517 §4.4). */
  readonly alg: Algorithm | undefined;
  readonly key: KeyObject;
  /** Cleared when a refreshed key set no longer has the key: cached results signed by it die too. */
  active: boolean;
}

export type ImportResult =
  { readonly ok: true; readonly record: KeyRecord } | { readonly ok: false; readonly reason: string };

// RFC 7518 §6.2.2, §6.3.2, RFC 8037 §2: private members have no place in a published key set.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * ROCA (CVE-2017-15361): the Infineon generator built primes as k·M + (65537^a mod M), M the
 * primorial of the odd primes up to 701 for every key of 1984 bits or more, so N mod p is a power
 * of 65537 for each such p. A random modulus passes all 125 tests with probability about 2^-167.
 */
const ROCA_SUBGROUPS: readonly (readonly [bigint, ReadonlySet<number>])[] = (() => {
  const subgroups: [bigint, Set<number>][] = [];
  for (let p = 3; p <= 701; p += 2) {
    let prime = true;
    for (let d = 3; d * d <= p; d += 2) if (p % d === 0) prime = false;
    if (!prime) continue;
    const powers = new Set<number>();
    for (let x = 1; !powers.has(x); x = (x * 65537) % p) powers.add(x);
    subgroups.push([BigInt(p), powers]);
  }
  return subgroups;
})();

/** Why an RSA public key must not verify anything, or undefined when it may. */
function rsaKeyProblem(key: KeyObject): string | undefined {
  // RFC 8017 §3.1: e is odd and at least 3. With e = 1 the "signature" is the padded digest itself,
  // which anyone can compute (Wycheproof json_web_key_test "exponentOne").
  const { e, n } = key.export({ format: 'jwk' }) as { e: string; n: string };
  const exponent = BigInt(`0x${Buffer.from(e, 'base64url').toString('hex')}`);
  if (exponent < 3n || exponent % 2n === 0n) return 'RSA public exponent not allowed';
  const modulus = BigInt(`0x${Buffer.from(n, 'base64url').toString('hex')}`);
  if (ROCA_SUBGROUPS.every(([p, powers]) => powers.has(Number(modulus % p))))
    return 'RSA modulus is ROCA-weak';
  return undefined;
}

/**
 * Imports one public JWK for signature verification, or says why it is skipped: a key meant for
 * encryption (`use`, `key_ops`), a private or symmetric key, an algorithm outside the allowlist,
 * an invalid point, a weak RSA key (exponent 1 or even, ROCA modulus) or a key no allowed algorithm
 * can use (RSA under 2048 bits, X25519, secp256k1).
 */
export function importJwk(jwk: unknown, algorithms: ReadonlySet<Algorithm>): ImportResult {
  if (!isObject(jwk)) return { ok: false, reason: 'not an object' };
  const kty = jwk['kty'];
  if (kty !== 'EC' && kty !== 'OKP' && kty !== 'RSA') return { ok: false, reason: 'unsupported kty' };
  if (PRIVATE_MEMBERS.some((name) => Object.hasOwn(jwk, name))) {
    return { ok: false, reason: 'private key material' };
  }
  const kid = jwk['kid'];
  if (kid !== undefined && typeof kid !== 'string') return { ok: false, reason: 'kid not a string' };
  // RFC 7517 §4.2 / §4.3: a key for encryption never verifies a signature.
  if (jwk['use'] !== undefined && jwk['use'] !== 'sig') return { ok: false, reason: 'use is not sig' };
  const ops = jwk['key_ops'];
  if (ops !== undefined && !(Array.isArray(ops) && ops.includes('verify'))) {
    return { ok: false, reason: 'key_ops lacks verify' };
  }
  const alg = jwk['alg'];
  if (alg !== undefined) {
    if (typeof alg !== 'string' || !isAlgorithm(alg) || isSymmetric(alg) || !algorithms.has(alg)) {
      return { ok: false, reason: 'alg not allowed' };
    }
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch {
    return { ok: false, reason: 'invalid key' };
  }
  const weakness = key.asymmetricKeyType === 'rsa' ? rsaKeyProblem(key) : undefined;
  if (weakness !== undefined) return { ok: false, reason: weakness };
  const usable =
    alg === undefined ? [...algorithms].some((a) => keyFitsAlgorithm(key, a)) : keyFitsAlgorithm(key, alg);
  if (!usable) return { ok: false, reason: 'no allowed algorithm fits the key' };
  return { ok: true, record: { kid, alg, key, active: true } };
}

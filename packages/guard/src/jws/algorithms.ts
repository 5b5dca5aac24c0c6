import type { KeyObject } from 'node:crypto';

/**
 * The JWS algorithms guard can verify (RFC 7518 §3, RFC 8037 §3.1, RFC 9864 §2) and what each
 * requires of its key. `none` is not here on purpose: it can never be allowed.
 */
export type AsymmetricAlgorithm =
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA'
  | 'Ed25519'
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512';
export type SymmetricAlgorithm = 'HS256' | 'HS384' | 'HS512';
export type Algorithm = AsymmetricAlgorithm | SymmetricAlgorithm;

export type AlgorithmFamily = 'EC' | 'OKP' | 'RSA' | 'RSA-PSS' | 'HMAC';

export interface AlgorithmSpec {
  readonly family: AlgorithmFamily;
  /** Digest for node:crypto; `null` for EdDSA, which hashes internally. */
  readonly hash: 'sha256' | 'sha384' | 'sha512' | null;
  /** Digest size in bytes (PSS salt length, RFC 7518 §3.5; HMAC tag and minimum key size, §3.2). */
  readonly hashBytes: number;
  /** node:crypto curve names the key must be on (EC and OKP). */
  readonly curves?: readonly string[];
}

const spec = (
  family: AlgorithmFamily,
  hash: AlgorithmSpec['hash'],
  hashBytes: number,
  curves?: readonly string[],
): AlgorithmSpec =>
  curves === undefined ? { family, hash, hashBytes } : { family, hash, hashBytes, curves };

export const ALGORITHMS: Readonly<Record<Algorithm, AlgorithmSpec>> = {
  ES256: spec('EC', 'sha256', 32, ['prime256v1']),
  ES384: spec('EC', 'sha384', 48, ['secp384r1']),
  ES512: spec('EC', 'sha512', 64, ['secp521r1']),
  EdDSA: spec('OKP', null, 0, ['ed25519', 'ed448']),
  Ed25519: spec('OKP', null, 0, ['ed25519']),
  RS256: spec('RSA', 'sha256', 32),
  RS384: spec('RSA', 'sha384', 48),
  RS512: spec('RSA', 'sha512', 64),
  PS256: spec('RSA-PSS', 'sha256', 32),
  PS384: spec('RSA-PSS', 'sha384', 48),
  PS512: spec('RSA-PSS', 'sha512', 64),
  HS256: spec('HMAC', 'sha256', 32),
  HS384: spec('HMAC', 'sha384', 48),
  HS512: spec('HMAC', 'sha512', 64),
};

export const DEFAULT_ALGORITHMS: readonly AsymmetricAlgorithm[] = ['ES256', 'EdDSA', 'RS256', 'PS256'];

/** RFC 7518 §3.3: RSA keys of 2048 bits or more. */
export const MIN_RSA_BITS = 2048;

export function isAlgorithm(value: string): value is Algorithm {
  return Object.hasOwn(ALGORITHMS, value);
}

export function isSymmetric(alg: Algorithm): alg is SymmetricAlgorithm {
  return ALGORITHMS[alg].family === 'HMAC';
}

/** Curve or key type name of a public key, as node:crypto reports it. */
export function keyCurve(key: KeyObject): string | undefined {
  const type = key.asymmetricKeyType;
  if (type === 'ec') return key.asymmetricKeyDetails?.namedCurve;
  return type;
}

/** Whether `key` may verify `alg` (RFC 8725 §3.1: the key decides the algorithm family). */
export function keyFitsAlgorithm(key: KeyObject, alg: Algorithm): boolean {
  const { family, curves } = ALGORITHMS[alg];
  const type = key.asymmetricKeyType;
  switch (family) {
    case 'EC':
    case 'OKP':
      return (
        (type === 'ec' || type === 'ed25519' || type === 'ed448') &&
        (curves as readonly string[]).includes(keyCurve(key) as string)
      );
    case 'RSA':
    case 'RSA-PSS':
      return type === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= MIN_RSA_BITS;
    case 'HMAC':
      return false;
  }
}

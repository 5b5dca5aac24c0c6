import { createHash, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, type JWK } from 'jose';
import type { AsymmetricAlgorithm } from '../../src/index.js';
import type { TestKey } from './keys.js';
import { NOW, forge, signToken } from './tokens.js';

/** A client's DPoP key pair (RFC 9449 §2) with its public JWK and RFC 7638 thumbprint. */
export interface DpopKey {
  readonly alg: AsymmetricAlgorithm;
  readonly privateKey: KeyObject;
  /** Public members only, as a client puts it in the proof header. */
  readonly publicJwk: JWK;
  /** `cnf.jkt` of tokens bound to this key (RFC 9449 §6.1), computed with jose. */
  readonly jkt: string;
}

function pair(alg: AsymmetricAlgorithm): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (alg) {
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ES384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'EdDSA':
    case 'Ed25519':
      return generateKeyPairSync('ed25519');
    case 'RS256':
    case 'PS256':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
    default:
      throw new Error(`no DPoP test key for ${alg}`);
  }
}

export async function createDpopKey(alg: AsymmetricAlgorithm = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = pair(alg);
  const publicJwk = publicKey.export({ format: 'jwk' }) as JWK;
  return { alg, privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk, 'sha256') };
}

/** RFC 9449 §4.2 `ath`: base64url SHA-256 of the ASCII access token. */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'ascii').digest('base64url');
}

export interface ProofOptions {
  readonly htm: string;
  readonly htu: string;
  /** Default NOW (the frozen test clock). */
  readonly iat?: number;
  /** Default a fresh UUID. */
  readonly jti?: string;
  /** Sets `ath` for this token. */
  readonly accessToken?: string;
  /** Merged over `{typ, alg, jwk}`; a member set to undefined is left out. */
  readonly header?: Record<string, unknown>;
  /** Merged over `{jti, htm, htu, iat, ath}`; a member set to undefined is left out. */
  readonly claims?: Record<string, unknown>;
  /** Signs with another algorithm and key than the DPoP key's own. */
  readonly signer?: { readonly alg: string; readonly key: KeyObject | Uint8Array | string };
  /** Exact signature bytes. */
  readonly signature?: Uint8Array;
}

/** A DPoP proof JWT (RFC 9449 §4.2) built byte by byte, so every member can be tampered with. */
export function createProof(key: DpopKey, options: ProofOptions): string {
  return forge({
    header: { typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk, ...options.header },
    payload: {
      jti: options.jti ?? randomUUID(),
      htm: options.htm,
      htu: options.htu,
      iat: options.iat ?? NOW,
      ...(options.accessToken === undefined ? {} : { ath: accessTokenHash(options.accessToken) }),
      ...options.claims,
    },
    signer: options.signer ?? { alg: key.alg, key: key.privateKey },
    ...(options.signature === undefined ? {} : { signature: options.signature }),
  });
}

/** The same proof made by an independent implementation (jose), for interoperability. */
export function createProofWithJose(
  key: DpopKey,
  options: { htm: string; htu: string; accessToken?: string; iat?: number },
): Promise<string> {
  return new SignJWT({
    htm: options.htm,
    htu: options.htu,
    ...(options.accessToken === undefined ? {} : { ath: accessTokenHash(options.accessToken) }),
  })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk })
    .setIssuedAt(options.iat ?? NOW)
    .setJti(randomUUID())
    .sign(key.privateKey);
}

/** An access token bound to `key` (RFC 9449 §6.1 `cnf.jkt`), signed by the issuer key. */
export function dpopBoundToken(
  issuerKey: TestKey,
  key: Pick<DpopKey, 'jkt'>,
  claims: Record<string, unknown> = {},
): string {
  return signToken(issuerKey, { cnf: { jkt: key.jkt }, ...claims });
}

import { randomUUID } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

/** A client's DPoP key pair (RFC 9449 §4.2) and its RFC 7638 thumbprint. */
export interface DpopKey {
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  readonly jkt: string;
}

export async function createDpopKey(): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const publicJwk = await exportJWK(publicKey);
  return { privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk, 'sha256') };
}

export interface ProofOptions {
  readonly htu: string;
  readonly htm?: string;
  readonly nonce?: string;
  /** Epoch seconds (default: `nowMs` of the test clock). */
  readonly iat?: number;
  readonly jti?: string;
  readonly typ?: string;
  /** Sign with this key but put another public key in the header (a forged proof). */
  readonly headerJwk?: JWK;
}

/** A DPoP proof JWT (RFC 9449 §4.2) signed with `key`, its claims at the test clock. */
export async function dpopProof(key: DpopKey, nowMs: number, options: ProofOptions): Promise<string> {
  return new SignJWT({
    htm: options.htm ?? 'POST',
    htu: options.htu,
    jti: options.jti ?? randomUUID(),
    ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
  })
    .setProtectedHeader({
      alg: 'ES256',
      typ: options.typ ?? 'dpop+jwt',
      jwk: options.headerJwk ?? key.publicJwk,
    })
    .setIssuedAt(options.iat ?? Math.floor(nowMs / 1000))
    .sign(key.privateKey);
}

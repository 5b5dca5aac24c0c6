import { createHmac, sign, constants, type KeyObject } from 'node:crypto';
import type { TestKey } from './keys.js';

export const ISSUER = 'https://auth.test.example';
export const AUDIENCE = 'https://api.test.example';
/** Frozen test clock: 2026-01-01T00:00:00Z. */
export const NOW_MS = Date.UTC(2026, 0, 1);
export const NOW = NOW_MS / 1000;

export const b64 = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString('base64url');

/** Claims of a valid access token at NOW (RFC 9068 §2.2). */
export function validClaims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'user-1',
    client_id: 'client-1',
    iat: NOW - 10,
    exp: NOW + 300,
    jti: 'jti-1',
    scope: 'accounts:read orders:read',
    ...extra,
  };
}

/** Raw signature over `input` with node:crypto, for any algorithm guard knows. */
export function signInput(alg: string, key: KeyObject | Uint8Array | string, input: string): Buffer {
  const data = Buffer.from(input);
  switch (alg) {
    case 'ES256':
    case 'ES384':
    case 'ES512':
      return sign(`sha${alg.slice(2)}`, data, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
    case 'EdDSA':
    case 'Ed25519':
      return sign(null, data, key as KeyObject);
    case 'RS256':
    case 'RS384':
    case 'RS512':
      return sign(`sha${alg.slice(2)}`, data, {
        key: key as KeyObject,
        padding: constants.RSA_PKCS1_PADDING,
      });
    case 'PS256':
    case 'PS384':
    case 'PS512':
      return sign(`sha${alg.slice(2)}`, data, {
        key: key as KeyObject,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: Number(alg.slice(2)) / 8,
      });
    case 'HS256':
    case 'HS384':
    case 'HS512':
      return createHmac(`sha${alg.slice(2)}`, key)
        .update(data)
        .digest();
    default:
      throw new Error(`cannot sign ${alg}`);
  }
}

export interface ForgeOptions {
  /** Header as an object (JSON-encoded) or exact text/bytes. */
  readonly header: Record<string, unknown> | string | Uint8Array;
  /** Payload as an object (JSON-encoded) or exact text/bytes. */
  readonly payload: Record<string, unknown> | string | Uint8Array;
  /** Key and algorithm to sign with; omit to give `signature` yourself. */
  readonly signer?: { readonly alg: string; readonly key: KeyObject | Uint8Array | string };
  /** Exact signature bytes (overrides signer). */
  readonly signature?: Uint8Array;
}

const encodePart = (part: ForgeOptions['header']): string =>
  typeof part === 'string' || part instanceof Uint8Array ? b64(part) : b64(JSON.stringify(part));

/** Builds a compact JWS with full control over every byte: the tool of the attack tables. */
export function forge(options: ForgeOptions): string {
  const input = `${encodePart(options.header)}.${encodePart(options.payload)}`;
  const signature =
    options.signature ??
    (options.signer ? signInput(options.signer.alg, options.signer.key, input) : new Uint8Array());
  return `${input}.${b64(signature)}`;
}

/** A valid access token signed with `key` (header typ at+jwt, kid set), with claim overrides. */
export function signToken(
  key: TestKey,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): string {
  return forge({
    header: { alg: key.alg, typ: 'at+jwt', kid: key.kid, ...header },
    payload: validClaims(claims),
    signer: { alg: key.alg, key: key.privateKey },
  });
}

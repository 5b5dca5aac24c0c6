import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { ISSUER, NOW } from './constants.js';

export interface TokenSigner {
  /** The public key, as the JWKS serves it. */
  readonly jwk: JWK;
  /** An RFC 9068 access token at `NOW` with these claims over the defaults. */
  sign(claims: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
}

export async function createTokenSigner(kid: string): Promise<TokenSigner> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  return {
    jwk,
    sign: (claims, header = {}) =>
      new SignJWT({ iss: ISSUER, iat: NOW - 10, exp: NOW + 300, jti: `jti-${kid}`, ...claims })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid, ...header })
        .sign(privateKey),
  };
}

/** An unsecured JWS (RFC 7519 §6): `alg: none`, empty signature. */
export function unsecuredToken(claims: Record<string, unknown>): string {
  const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'none', typ: 'at+jwt' })}.${encode({ iss: ISSUER, iat: NOW - 10, exp: NOW + 300, ...claims })}.`;
}

/**
 * Keys and RFC 9068 access tokens for the guard benchmark.
 */
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { SignJWT } from 'jose';

export const ISSUER = 'https://auth.bench.example';
export const AUDIENCE = 'https://api.bench.example';
/** RFC 9068 §2.1: the media type of a JWT access token. */
export const TYP = 'at+jwt';

/**
 * @typedef {'ES256' | 'EdDSA' | 'RS256'} BenchAlg
 * @typedef {object} BenchKey
 * @property {BenchAlg} alg
 * @property {string} kid
 * @property {import('node:crypto').KeyObject} privateKey
 * @property {import('node:crypto').KeyObject} publicKey
 * @property {import('node:crypto').JsonWebKey} publicJwk Published form: kty, crv/x/y or n/e, kid, alg, use.
 */

/**
 * A fresh signing key for `alg` (RS256 with a 2048-bit modulus, the common deployment size).
 * @param {BenchAlg} alg
 * @returns {BenchKey}
 */
export function createKey(alg) {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `bench-${alg.toLowerCase()}-${randomUUID().slice(0, 8)}`;
  return {
    alg,
    kid,
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    publicJwk: { ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' },
  };
}

/**
 * Claims of a typical user access token from an authorization-code flow (RFC 9068 §2.2).
 * @param {number} nowSec
 * @param {number} serial Makes `sub` and `jti` distinct between tokens.
 * @returns {Record<string, unknown>}
 */
export function accessTokenClaims(nowSec, serial) {
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: `user-${String(serial).padStart(8, '0')}`,
    client_id: 'web-portal',
    scope: 'openid profile accounts:read orders:read orders:write',
    iat: nowSec,
    exp: nowSec + 3600,
    jti: randomUUID(),
  };
}

/**
 * Signs an access token with jose (header alg, typ at+jwt, kid).
 * @param {BenchKey} key
 * @param {Record<string, unknown>} claims
 * @returns {Promise<string>}
 */
export function signWithJose(key, claims) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, typ: TYP, kid: key.kid })
    .sign(key.privateKey);
}

/**
 * Signs an ES256 access token with node:crypto directly (synchronous, no WebCrypto round trip): the
 * memory measurement needs 100 000 distinct tokens.
 * @param {BenchKey} key An ES256 key.
 * @param {Record<string, unknown>} claims
 * @returns {string}
 */
export function signEs256Fast(key, claims) {
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', typ: TYP, kid: key.kid })).toString('base64url');
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const input = `${header}.${payload}`;
  // RFC 7518 §3.4: ECDSA signatures in JWS are R‖S (IEEE P1363), not DER.
  const signature = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

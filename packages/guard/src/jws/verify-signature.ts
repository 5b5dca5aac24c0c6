import { constants, createHmac, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { fail, isGuardError } from '../errors.js';
import { ALGORITHMS, type Algorithm } from './algorithms.js';

/** Group orders of the NIST curves (FIPS 186-5 / SEC 2), big-endian, at the P1363 coordinate size. */
const CURVE_ORDERS: Readonly<Record<string, Buffer>> = {
  prime256v1: Buffer.from('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551', 'hex'),
  secp384r1: Buffer.from(
    'ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973',
    'hex',
  ),
  secp521r1: Buffer.from(
    '01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' +
      'fa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409',
    'hex',
  ),
};

const ED_SIGNATURE_BYTES: Readonly<Record<string, number>> = { ed25519: 64, ed448: 114 };

function isZero(bytes: Buffer): boolean {
  for (const byte of bytes) if (byte !== 0) return false;
  return true;
}

/**
 * RFC 7518 §3.4: an ECDSA signature is R‖S, each exactly the coordinate size, and (SEC 1 §4.1.4)
 * both in [1, n-1]. Checked before the curve arithmetic: r = s = 0 is the "psychic signature"
 * (CVE-2022-21449), r or s ≥ n the malleability / range-check family.
 */
function checkEcdsaSignature(signature: Buffer, curve: string): void {
  const order = CURVE_ORDERS[curve] as Buffer;
  if (signature.length !== order.length * 2) fail('ERR_JWT_SIGNATURE_MALFORMED', 'ECDSA size');
  const r = signature.subarray(0, order.length);
  const s = signature.subarray(order.length);
  if (isZero(r) || isZero(s)) fail('ERR_JWT_SIGNATURE_MALFORMED', 'ECDSA zero component');
  if (Buffer.compare(r, order) >= 0 || Buffer.compare(s, order) >= 0) {
    fail('ERR_JWT_SIGNATURE_MALFORMED', 'ECDSA component out of range');
  }
}

/**
 * Verifies a JWS signature with node:crypto. `key` has already been matched to `alg` (kty, curve,
 * RSA size); sizes are checked here so a truncated or padded signature gets its own code.
 */
export function verifySignature(alg: Algorithm, key: KeyObject, data: Buffer, signature: Buffer): void {
  const { family, hash, hashBytes } = ALGORITHMS[alg];
  let valid: boolean;
  try {
    switch (family) {
      case 'EC':
        checkEcdsaSignature(signature, key.asymmetricKeyDetails?.namedCurve as string);
        valid = verify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
        break;
      case 'OKP':
        if (signature.length !== ED_SIGNATURE_BYTES[key.asymmetricKeyType as string]) {
          fail('ERR_JWT_SIGNATURE_MALFORMED', 'EdDSA size');
        }
        valid = verify(null, data, key, signature);
        break;
      case 'RSA':
      case 'RSA-PSS':
        // RFC 8017 §8.2.2 / §8.1.2: the signature is exactly the modulus length.
        if (signature.length !== Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8)) {
          fail('ERR_JWT_SIGNATURE_MALFORMED', 'RSA size');
        }
        valid = verify(
          hash,
          data,
          family === 'RSA'
            ? { key, padding: constants.RSA_PKCS1_PADDING }
            : // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
              { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hashBytes },
          signature,
        );
        break;
      case 'HMAC':
        valid = verifyHmac(hash as string, key, data, signature, hashBytes);
        break;
    }
  } catch (err) {
    if (isGuardError(err)) throw err;
    valid = false;
  }
  if (!valid) fail('ERR_JWT_SIGNATURE_INVALID');
}

function verifyHmac(hash: string, key: KeyObject, data: Buffer, signature: Buffer, size: number): boolean {
  if (signature.length !== size) fail('ERR_JWT_SIGNATURE_MALFORMED', 'HMAC size');
  const expected = createHmac(hash, key).update(data).digest();
  return timingSafeEqual(expected, signature);
}

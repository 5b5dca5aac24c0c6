import { fail } from '../errors.js';
import { isAlgorithm, type Algorithm } from './algorithms.js';

export interface HeaderPolicy {
  readonly algorithms: ReadonlySet<Algorithm>;
  /** Keys come from a JWKS (asymmetric) or a shared secret (HMAC). */
  readonly keyMode: 'asymmetric' | 'symmetric';
  /** Expected `typ` (RFC 8725 §3.11), or null to skip the check. */
  readonly typ: string | null;
  /** Header members allowed to carry a key; only DPoP proofs take `jwk` (RFC 9449 §4.2). */
  readonly allowJwkHeader?: boolean;
}

// RFC 8725 §3.10 / RFC 7515 §4.1.2-4.1.6: a key or key location in the token is attacker-chosen.
const KEY_HEADERS = ['jku', 'jwk', 'x5u', 'x5c'] as const;
const MAX_KID_LENGTH = 256;
// Printable ASCII and no spaces at the ends; a kid is an opaque lookup name, never a path or a query.
const PLAIN_KID = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

const has = (header: Readonly<Record<string, unknown>>, name: string): boolean => Object.hasOwn(header, name);

/** RFC 7515 §4.1.9 / RFC 7519 §5.1: media types compare case-insensitively, `application/` optional. */
export function normalizeMediaType(value: string): string {
  const lower = value.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

/**
 * The JOSE header checks of RFC 8725 §3 in a fixed order; each refusal has its own code. Returns
 * the algorithm, now known to be allowed and of the verifier's key mode.
 */
export function checkHeader(header: Readonly<Record<string, unknown>>, policy: HeaderPolicy): Algorithm {
  // RFC 7516 §4.1.2: `enc` marks a JWE, even one squeezed into three segments.
  if (has(header, 'enc')) fail('ERR_JWT_JWE_UNSUPPORTED');

  const alg = header['alg'];
  if (typeof alg !== 'string') fail('ERR_JWT_MALFORMED', 'alg missing or not a string');
  // RFC 8725 §3.1 / RFC 7518 §3.6: unsecured JWS, whatever the casing (CVE-2022-23540 family).
  if (alg.toLowerCase() === 'none') fail('ERR_JWT_ALG_NONE');

  for (const name of KEY_HEADERS) {
    if (has(header, name) && !(name === 'jwk' && policy.allowJwkHeader === true)) {
      fail('ERR_JWT_HEADER_KEY_FORBIDDEN', name);
    }
  }

  // RFC 8725 §2.1 / §3.1: an HMAC token against public keys is the HS/RS confusion attack.
  if (policy.keyMode === 'asymmetric' && /^hs\d+$/i.test(alg)) fail('ERR_JWT_ALG_KEY_CONFUSION', alg);
  // A symmetric verifier's allowlist holds only HS* (checked by createVerifier), and vice versa.
  if (!isAlgorithm(alg) || !policy.algorithms.has(alg)) fail('ERR_JWT_ALG_NOT_ALLOWED', alg);

  // RFC 7797 §3: b64=false changes what is signed; guard never accepts it (even if `crit` lists it).
  if (has(header, 'b64') && header['b64'] !== true) fail('ERR_JWT_B64_UNSUPPORTED');
  // RFC 7515 §4.1.11: guard understands no extension, so any `crit` (even malformed) is refused.
  if (has(header, 'crit')) fail('ERR_JWT_CRIT_UNSUPPORTED');

  // RFC 7519 §5.2 / RFC 8725 §2.8: `cty: JWT` announces a nested token.
  const cty = header['cty'];
  if (typeof cty === 'string' && normalizeMediaType(cty) === 'jwt') fail('ERR_JWT_NESTED_UNSUPPORTED');

  if (has(header, 'kid')) {
    const kid = header['kid'];
    if (typeof kid !== 'string' || kid.length > MAX_KID_LENGTH || !PLAIN_KID.test(kid)) {
      fail('ERR_JWT_KID_INVALID');
    }
  }

  if (policy.typ !== null) {
    const typ = header['typ'];
    if (typeof typ !== 'string' || normalizeMediaType(typ) !== normalizeMediaType(policy.typ)) {
      fail('ERR_JWT_TYP_INVALID');
    }
  }
  return alg;
}

import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { ClientCertificate } from './client-certificate.js';

function spkiOf(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' });
}

/** The public key of a registered JWK, or undefined when it is not one Node can read. */
function publicKeyOf(jwk: unknown): KeyObject | undefined {
  if (typeof jwk !== 'object' || jwk === null) return undefined;
  const record = jwk as Record<string, unknown>;
  // A private or symmetric JWK is never a registration of a certificate's key.
  if (record['d'] !== undefined || record['k'] !== undefined) return undefined;
  try {
    return createPublicKey({ key: record as JsonWebKey, format: 'jwk' });
  } catch {
    return undefined;
  }
}

function x5cLeaf(jwk: unknown): Buffer | undefined {
  const x5c = (jwk as { x5c?: unknown }).x5c;
  if (!Array.isArray(x5c) || typeof x5c[0] !== 'string') return undefined;
  return Buffer.from(x5c[0], 'base64');
}

/**
 * RFC 8705 §2.2: `self_signed_tls_client_auth` trusts the certificate because the client
 * registered it: its public key is the key of one of the client's `jwks` entries (and when that
 * entry carries `x5c`, the certificate is exactly `x5c[0]`). No chain, no CA. Returns why it does
 * not match, or undefined.
 */
export function certificateKeyProblem(
  certificate: ClientCertificate,
  jwks: { readonly keys: readonly unknown[] } | null,
): string | undefined {
  if (jwks === null || jwks.keys.length === 0) return 'client has no registered keys';
  const presented = spkiOf(certificate.x509.publicKey);
  for (const jwk of jwks.keys) {
    const key = publicKeyOf(jwk);
    if (key === undefined || !spkiOf(key).equals(presented)) continue;
    const pinned = x5cLeaf(jwk);
    if (pinned === undefined || pinned.equals(certificate.x509.raw)) return undefined;
  }
  return 'certificate key is not a registered key of the client';
}

import { fail } from '../errors.js';
import { equalsConstantTime } from '../lib/constant-time.js';
import type { Principal } from '../jwt/principal.js';
import type { PeerCertificate } from './peer-certificate.js';

/**
 * RFC 8705 §3: a certificate-bound token (`cnf.x5t#S256`) is only good on a TLS connection made
 * with that certificate. Tokens without the confirmation pass unchanged.
 */
export function confirmCertificateBinding(
  principal: Pick<Principal, 'cnf'>,
  certificate: PeerCertificate | undefined,
): void {
  const bound = principal.cnf?.['x5t#S256'];
  if (bound === undefined) return;
  if (certificate === undefined) fail('ERR_MTLS_CERTIFICATE_REQUIRED');
  if (!equalsConstantTime(bound, certificate.thumbprint)) fail('ERR_MTLS_CERTIFICATE_MISMATCH');
}

export interface PeerIdentityRule {
  /** Accepted SAN URIs, exact (e.g. `spiffe://gatehouse/gateway`). */
  readonly uris?: readonly string[];
  /** Accepted subject common names, exact (legacy peers without SAN URIs). */
  readonly commonNames?: readonly string[];
}

/**
 * Service-to-service identity: the peer's certificate must chain to a trusted CA and name one of
 * the allowed identities. Returns the matched identity.
 */
export function requirePeerIdentity(
  certificate: PeerCertificate | undefined,
  rule: PeerIdentityRule,
): string {
  if (certificate === undefined) return fail('ERR_MTLS_PEER_IDENTITY', 'no client certificate');
  if (!certificate.authorized) return fail('ERR_MTLS_PEER_IDENTITY', 'certificate not trusted');
  const uri = certificate.uris.find((u) => rule.uris?.includes(u));
  if (uri !== undefined) return uri;
  const cn = certificate.commonName;
  if (cn !== undefined && rule.commonNames?.includes(cn)) return cn;
  return fail('ERR_MTLS_PEER_IDENTITY', 'identity not allowed');
}

import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { parseSubjectAltName } from '@gatehouse/guard';
import type { UpstreamTlsOptions } from './upstream.js';

type IdentityCheck = (hostname: string, cert: PeerCertificate) => Error | undefined;

/** Node's TLS layer expects identity errors to carry the certificate-name code. */
function identityError(message: string): Error {
  return Object.assign(new Error(message), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
}

/**
 * The `checkServerIdentity` for an upstream's TLS connections. Without an expected identity,
 * Node's RFC 6125 host name check applies. With one, the certificate must carry it in its SAN:
 * the URI (a SPIFFE ID) exactly, the DNS name per RFC 6125 §6.4 (wildcards included). The chain
 * itself is verified before this runs, against the pinned CA when there is one.
 */
export function buildCheckServerIdentity(
  identity: UpstreamTlsOptions['identity'],
): IdentityCheck | undefined {
  const uri = identity?.uri;
  const dns = identity?.dns;
  if (uri === undefined && dns === undefined) return undefined;
  return (_hostname, cert) => {
    if (dns !== undefined) {
      const error = checkServerIdentity(dns, cert);
      if (error !== undefined) return error;
    }
    // Node renders SANs as text with quoted special values; parse, never substring-match.
    if (uri !== undefined && !parseSubjectAltName(cert.subjectaltname).uris.includes(uri)) {
      return identityError('upstream certificate does not carry the expected URI SAN');
    }
    return undefined;
  };
}

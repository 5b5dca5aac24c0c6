import type { PeerCertificate } from '@gatehouse/guard';
import type { CertificateEvidence } from './client-certificate.js';
import { parseSubjectAltNames } from './match-certificate-name.js';

/**
 * The certificate of a request as guard's binding check reads it (RFC 8705 §3), for the auth
 * server's own protected resource (UserInfo). An unreadable header counts as no certificate, so a
 * certificate-bound token is refused.
 */
export function toPeerCertificate(evidence: CertificateEvidence): PeerCertificate | undefined {
  if (evidence.status !== 'present') return undefined;
  const { x509, thumbprint, tlsAuthorized } = evidence.certificate;
  const sans = parseSubjectAltNames(x509.subjectAltName);
  const cn = /^CN=(.*)$/m.exec(x509.subject)?.[1];
  return {
    raw: x509.raw,
    thumbprint,
    authorized: tlsAuthorized,
    commonName: cn,
    uris: sans.uri,
    dnsNames: sans.dns,
    ipAddresses: sans.ip,
  };
}

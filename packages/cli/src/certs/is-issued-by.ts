import type { X509Certificate } from 'node:crypto';

/** RFC 5280 §6.1.3 (a)(1), (a)(4): the issuer name matches and the CA's key signed it. */
export function isIssuedBy(cert: X509Certificate, ca: X509Certificate): boolean {
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

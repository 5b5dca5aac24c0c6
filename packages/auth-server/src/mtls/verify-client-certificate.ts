import type { X509Certificate } from 'node:crypto';
import type { ClientCertificate } from './client-certificate.js';

/** RFC 5280 §4.2.1.12 extended key usages that allow TLS client authentication. */
const CLIENT_AUTH_EKU = '1.3.6.1.5.5.7.3.2';
const ANY_EKU = '2.5.29.37.0';

/** The CAs `tls_client_auth` certificates must chain to. */
export interface PkiTrust {
  /** `mtls.caFile`, else the TLS listener's `caFile`; empty: no certificate is PKI-trusted. */
  readonly anchors: readonly X509Certificate[];
  /**
   * The anchors are the TLS listener's own client CAs, so OpenSSL has already run RFC 5280 path
   * validation (any depth, path-length and name constraints) on a handshake certificate: its
   * verdict (`socket.authorized`) is required for those.
   */
  readonly listenerVerified: boolean;
}

function validAt(x509: X509Certificate, nowMs: number): boolean {
  return Date.parse(x509.validFrom) <= nowMs && nowMs <= Date.parse(x509.validTo);
}

/** Whether `issuer` (a CA valid now) signed `x509`. */
function issuedBy(x509: X509Certificate, issuer: X509Certificate, nowMs: number): boolean {
  try {
    return issuer.ca && validAt(issuer, nowMs) && x509.checkIssued(issuer) && x509.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/**
 * RFC 8705 §2.1: the PKI method trusts a certificate that chains to a configured CA. Checked
 * here with the server's clock: the leaf is within its validity period, is not a CA, and (when it
 * lists extended key usages) allows client authentication. A handshake certificate under the
 * listener's own CAs also needs OpenSSL's verdict; any other (a header certificate, or one checked
 * against `mtls.caFile`) must be issued directly by one of the anchors, so intermediate CAs belong
 * in the CA file. Returns why the certificate is not trusted, or undefined.
 */
export function pkiProblem(
  certificate: ClientCertificate,
  trust: PkiTrust,
  nowMs: number,
): string | undefined {
  const { x509 } = certificate;
  if (!validAt(x509, nowMs)) return 'certificate expired or not yet valid';
  if (x509.ca) return 'a CA certificate cannot authenticate a client';
  const usages = x509.keyUsage as string[] | undefined;
  if (
    usages !== undefined &&
    usages.length > 0 &&
    !usages.includes(CLIENT_AUTH_EKU) &&
    !usages.includes(ANY_EKU)
  )
    return 'certificate not issued for client authentication';
  if (trust.anchors.length === 0) return 'no CA configured for tls_client_auth';
  if (certificate.source === 'tls' && trust.listenerVerified) {
    return certificate.tlsAuthorized ? undefined : 'certificate chain refused by the TLS listener';
  }
  return trust.anchors.some((anchor) => issuedBy(x509, anchor, nowMs))
    ? undefined
    : 'certificate not issued by a configured CA';
}

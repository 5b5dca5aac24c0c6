import { parseForwardedCertificate } from '@gatehouse/core';
import { toClientCertificate, type CertificateEvidence } from './client-certificate.js';

/**
 * The client certificate a TLS-terminating proxy forwarded in a header (RFC 9440 `Client-Cert`, or
 * nginx's URL-encoded PEM; core's `parseForwardedCertificate`) as evidence for RFC 8705.
 */
export function parseCertificateHeader(value: string): CertificateEvidence {
  const forwarded = parseForwardedCertificate(value);
  if (forwarded.status !== 'present') return forwarded;
  return { status: 'present', certificate: toClientCertificate(forwarded.certificate, 'header', false) };
}

import { hash, X509Certificate } from 'node:crypto';

/** Where a client certificate was read: the TLS handshake, or a header set by a trusted proxy. */
export type CertificateSource = 'tls' | 'header';

/** A client certificate presented with a request (RFC 8705 §2). */
export interface ClientCertificate {
  readonly x509: X509Certificate;
  /** RFC 8705 §3.1 `x5t#S256`: base64url SHA-256 of the DER certificate. */
  readonly thumbprint: string;
  readonly source: CertificateSource;
  /**
   * `tls` only: OpenSSL verified the chain against the listener's `caFile` (`socket.authorized`).
   * Always false for a header certificate.
   */
  readonly tlsAuthorized: boolean;
}

/**
 * What a request proves about its client certificate: none, one, or a header from a trusted proxy
 * that could not be read (refused as `invalid_client`, never a 500).
 */
export type CertificateEvidence =
  | { readonly status: 'none' }
  | { readonly status: 'present'; readonly certificate: ClientCertificate }
  | { readonly status: 'malformed'; readonly reason: string };

export const NO_CERTIFICATE: CertificateEvidence = Object.freeze({ status: 'none' });

/** RFC 8705 §3.1: `x5t#S256` = base64url(SHA-256(DER)). */
export function certificateThumbprint(der: Uint8Array): string {
  return hash('sha256', der, 'base64url');
}

/**
 * Parses DER bytes; undefined unless they are exactly one certificate (trailing bytes would let two
 * different byte strings, hence two thumbprints, name one certificate).
 */
export function parseDerCertificate(der: Buffer): X509Certificate | undefined {
  try {
    const x509 = new X509Certificate(der);
    return x509.raw.equals(der) ? x509 : undefined;
  } catch {
    return undefined;
  }
}

export function toClientCertificate(
  x509: X509Certificate,
  source: CertificateSource,
  tlsAuthorized: boolean,
): ClientCertificate {
  return Object.freeze({ x509, thumbprint: certificateThumbprint(x509.raw), source, tlsAuthorized });
}

/** The thumbprint of the certificate the evidence carries, if any. */
export function thumbprintOf(evidence: CertificateEvidence | undefined): string | undefined {
  return evidence?.status === 'present' ? evidence.certificate.thumbprint : undefined;
}

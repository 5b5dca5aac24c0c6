import { parseDerCertificate, toClientCertificate, type CertificateEvidence } from './client-certificate.js';

/** Far above any real certificate; refuses a header built to make the server decode megabytes. */
const MAX_HEADER_LENGTH = 16 * 1024;
/** RFC 8941 §3.3.5 byte sequence: `:` base64 `:` (RFC 9440 §2.2 Client-Cert). */
const BYTE_SEQUENCE = /^:([A-Za-z0-9+/]*={0,2}):$/;
const PEM = /^-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const malformed = (reason: string): CertificateEvidence => ({ status: 'malformed', reason });

function derOf(value: string): Buffer | string {
  const sequence = BYTE_SEQUENCE.exec(value);
  if (sequence !== null) {
    const base64 = sequence[1] as string;
    if (base64.length % 4 !== 0) return 'certificate header: byte sequence is not padded base64';
    return Buffer.from(base64, 'base64');
  }
  // nginx $ssl_client_escaped_cert (and most load balancers): the PEM, URL-encoded.
  let pem: string;
  try {
    pem = decodeURIComponent(value).trim();
  } catch {
    return 'certificate header: not URL-encoded';
  }
  const body = PEM.exec(pem)?.[1]?.replace(/\s+/g, '');
  if (body === undefined) return 'certificate header: neither a byte sequence nor one PEM certificate';
  if (!BASE64.test(body) || body.length % 4 !== 0) return 'certificate header: PEM is not base64';
  return Buffer.from(body, 'base64');
}

/**
 * Reads the client certificate a TLS-terminating proxy forwarded in a header: RFC 9440 `Client-Cert`
 * (a structured-field byte sequence of the DER, `:MIIB…:`), or a URL-encoded PEM as nginx's
 * `$ssl_client_escaped_cert` produces. An empty value means the proxy saw no certificate. Anything
 * else that is not exactly one certificate is malformed.
 */
export function parseCertificateHeader(value: string): CertificateEvidence {
  const trimmed = value.trim();
  if (trimmed === '') return { status: 'none' };
  if (trimmed.length > MAX_HEADER_LENGTH) return malformed('certificate header: too long');
  const der = derOf(trimmed);
  if (typeof der === 'string') return malformed(der);
  const x509 = parseDerCertificate(der);
  if (x509 === undefined) return malformed('certificate header: not one DER certificate');
  return { status: 'present', certificate: toClientCertificate(x509, 'header', false) };
}

import { X509Certificate } from 'node:crypto';

/** What a TLS-terminating proxy's certificate header says about the client. */
export type ForwardedCertificate =
  | { readonly status: 'none' }
  | { readonly status: 'present'; readonly certificate: X509Certificate }
  | { readonly status: 'malformed'; readonly reason: string };

/** Far above any real certificate; refuses a header built to make the server decode megabytes. */
const MAX_HEADER_LENGTH = 16 * 1024;
/** RFC 8941 §3.3.5 byte sequence: `:` base64 `:` (RFC 9440 §2.2 Client-Cert). */
const BYTE_SEQUENCE = /^:([A-Za-z0-9+/]*={0,2}):$/;
const PEM = /^-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const malformed = (reason: string): ForwardedCertificate => ({ status: 'malformed', reason });

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

/** Exactly one DER certificate (no trailing bytes), or undefined. */
function parseDer(der: Buffer): X509Certificate | undefined {
  try {
    const x509 = new X509Certificate(der);
    return x509.raw.equals(der) ? x509 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the client certificate a TLS-terminating proxy forwarded in a header: RFC 9440 `Client-Cert`
 * (a structured-field byte sequence of the DER, `:MIIB…:`), or a URL-encoded PEM as nginx's
 * `$ssl_client_escaped_cert` produces. An empty value means the proxy saw no certificate. Anything
 * else that is not exactly one certificate is malformed. No trust decision is made here: the
 * proxy verified the chain; the header must only be believed from a trusted proxy.
 */
export function parseForwardedCertificate(value: string): ForwardedCertificate {
  const trimmed = value.trim();
  if (trimmed === '') return { status: 'none' };
  if (trimmed.length > MAX_HEADER_LENGTH) return malformed('certificate header: too long');
  const der = derOf(trimmed);
  if (typeof der === 'string') return malformed(der);
  const certificate = parseDer(der);
  if (certificate === undefined) return malformed('certificate header: not one DER certificate');
  return { status: 'present', certificate };
}

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

/** An Envoy `x-forwarded-client-cert` element starts with a key (`By=`, `Hash=`, `Cert=`…). */
const XFCC_KEY = /^[A-Za-z]+=/;

/**
 * The `Cert` value of Envoy's `x-forwarded-client-cert` (XFCC): `;`-separated `key=value` pairs,
 * values double-quoted when they hold `,`, `;` or `=`, `\"` inside quotes; elements of several
 * hops separated by `,`. Only a single element is read (Envoy's `SANITIZE_SET`: the client of this
 * hop): a list would leave it to a guess which hop's certificate is the client's.
 */
function xfccCertificate(value: string): string | { readonly error: string } {
  const pairs: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (quoted && c === '\\' && i + 1 < value.length) current += value[++i] as string;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === ',') return { error: 'certificate header: more than one XFCC element' };
    else if (!quoted && c === ';') {
      pairs.push(current);
      current = '';
    } else current += c;
  }
  if (quoted) return { error: 'certificate header: unterminated XFCC quote' };
  pairs.push(current);
  const certs = pairs.filter((pair) => pair.slice(0, 5).toLowerCase() === 'cert=');
  if (certs.length !== 1) return { error: 'certificate header: XFCC element without exactly one Cert' };
  return (certs[0] as string).slice(5);
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
 * (a structured-field byte sequence of the DER, `:MIIB…:`), a URL-encoded PEM as nginx's
 * `$ssl_client_escaped_cert` produces, or the `Cert` of one Envoy `x-forwarded-client-cert`
 * element (a URL-encoded PEM too; Envoy's `set_current_client_cert_details: { cert: true }`). An
 * empty value means the proxy saw no certificate. Anything else that is not exactly one
 * certificate is malformed. No trust decision is made here: the proxy verified the chain; the
 * header must only be believed from a trusted proxy.
 */
export function parseForwardedCertificate(value: string): ForwardedCertificate {
  let trimmed = value.trim();
  if (trimmed === '') return { status: 'none' };
  if (trimmed.length > MAX_HEADER_LENGTH) return malformed('certificate header: too long');
  if (XFCC_KEY.test(trimmed)) {
    const cert = xfccCertificate(trimmed);
    if (typeof cert !== 'string') return malformed(cert.error);
    trimmed = cert;
  }
  const der = derOf(trimmed);
  if (typeof der === 'string') return malformed(der);
  const certificate = parseDer(der);
  if (certificate === undefined) return malformed('certificate header: not one DER certificate');
  return { status: 'present', certificate };
}

import { X509Certificate, createHash } from 'node:crypto';
import { GatehouseError } from '../errors/gatehouse-error.js';

/** What operators and metrics need to know about a certificate. */
export interface CertificateInfo {
  /** Subject DN on one line, attributes in certificate order (`CN=api, O=Example`). */
  readonly subject: string;
  readonly issuer: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Whole days until notAfter, rounded down: 0 on the last day, negative once expired. */
  readonly daysLeft: number;
  /** Subject alternative names (RFC 5280 §4.2.1.6), IPv6 addresses in RFC 5952 form. */
  readonly dns: string[];
  readonly ip: string[];
  readonly uri: string[];
  /** base64url SHA-256 of the DER certificate: the `x5t#S256` of RFC 8705 §3.1 and RFC 7515 §4.1.8. */
  readonly fingerprint256: string;
}

const DAY_MS = 86_400_000;

/** RFC 5952 §4 text form of an IPv6 address (Node prints every group: `0:0:0:0:0:0:0:1`). */
function normalizeIp(ip: string): string {
  return ip.includes(':') ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}

/**
 * Node's `subjectAltName` text: `TYPE:value` entries separated by `, `, where a value holding a
 * comma, quote or backslash is written as a JSON string (Node ≥ 17.3, CVE-2021-44532), so a comma
 * inside a name can never split it.
 */
export function parseSubjectAltName(text: string | undefined): Map<string, string[]> {
  const names = new Map<string, string[]>();
  let rest = text ?? '';
  while (rest.length > 0) {
    const colon = rest.indexOf(':');
    const type = rest.slice(0, colon);
    rest = rest.slice(colon + 1);
    let value: string;
    if (rest.startsWith('"')) {
      let end = 1;
      while (rest[end] !== '"') end += rest[end] === '\\' ? 2 : 1;
      value = JSON.parse(rest.slice(0, end + 1)) as string;
      rest = rest.slice(end + 1);
    } else {
      const comma = rest.indexOf(', ');
      value = comma === -1 ? rest : rest.slice(0, comma);
      rest = comma === -1 ? '' : rest.slice(comma);
    }
    rest = rest.replace(/^, /, '');
    names.set(type, [...(names.get(type) ?? []), value]);
  }
  return names;
}

/** Describes the first certificate of a PEM text (the leaf of a chain file). */
export function describeCertificate(pem: string, now: number = Date.now()): CertificateInfo {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (cause) {
    throw new GatehouseError('ERR_CONFIG_INVALID', { detail: 'not a PEM certificate', cause });
  }
  const notAfter = new Date(cert.validTo);
  const sans = parseSubjectAltName(cert.subjectAltName);
  return {
    subject: cert.subject.split('\n').join(', '),
    issuer: cert.issuer.split('\n').join(', '),
    notBefore: new Date(cert.validFrom),
    notAfter,
    daysLeft: Math.floor((notAfter.getTime() - now) / DAY_MS),
    dns: sans.get('DNS') ?? [],
    ip: (sans.get('IP Address') ?? []).map(normalizeIp),
    uri: sans.get('URI') ?? [],
    fingerprint256: createHash('sha256').update(cert.raw).digest('base64url'),
  };
}

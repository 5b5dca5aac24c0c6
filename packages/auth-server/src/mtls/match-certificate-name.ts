import type { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { TlsClientAuthName } from '../clients/client.js';
import { parseNodeSubject, parseRfc4514, sameDistinguishedName } from './distinguished-name.js';

/** The subject alternative names of a certificate, by type (RFC 5280 §4.2.1.6). */
interface SubjectAltNames {
  readonly dns: string[];
  readonly uri: string[];
  readonly ip: string[];
  readonly email: string[];
}

// Node prints `DNS:a, URI:b, IP Address:c, email:d`; a value with special characters is a JSON
// string (since the CVE-2021-44532 fix), so an unquoted value never contains ", ".
const SAN_ENTRY = /(DNS|URI|IP Address|email|[A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;

export function parseSubjectAltNames(value: string | undefined): SubjectAltNames {
  const names: SubjectAltNames = { dns: [], uri: [], ip: [], email: [] };
  if (value === undefined) return names;
  for (const [, type, raw = ''] of value.matchAll(SAN_ENTRY)) {
    let text: string;
    try {
      text = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    } catch {
      continue;
    }
    if (type === 'DNS') names.dns.push(text);
    else if (type === 'URI') names.uri.push(text);
    else if (type === 'IP Address') names.ip.push(text);
    else if (type === 'email') names.email.push(text);
  }
  return names;
}

/** One spelling per address: IPv6 compressed and lower case (Node prints it expanded, upper case). */
export function normalizeIp(value: string): string | undefined {
  const version = isIP(value);
  if (version === 4) return value;
  if (version === 6) return new URL(`http://[${value}]/`).hostname;
  return undefined;
}

/** DNS names compare case-insensitively (RFC 4343), one trailing root dot ignored. */
const normalizeDns = (value: string): string => value.toLowerCase().replace(/\.$/, '');

/** The local part is exact; the domain compares case-insensitively (RFC 5321 §2.4). */
function normalizeEmail(value: string): string {
  const at = value.lastIndexOf('@');
  return at === -1 ? value : `${value.slice(0, at)}@${value.slice(at + 1).toLowerCase()}`;
}

/**
 * RFC 8705 §2.1.2: the certificate's subject DN, or one of its SANs of the registered type,
 * equals the registered value. No wildcard semantics: a `*.example.com` SAN matches only a
 * client registered with `*.example.com`. Returns why it does not match, or undefined.
 */
export function certificateNameProblem(x509: X509Certificate, name: TlsClientAuthName): string | undefined {
  const { kind, value } = name;
  if (kind === 'subject_dn') {
    const expected = parseRfc4514(value);
    const actual = parseNodeSubject(x509.subject);
    if (expected === undefined || actual === undefined) return 'subject DN unreadable';
    return sameDistinguishedName(expected, actual) ? undefined : 'subject DN differs';
  }
  const sans = parseSubjectAltNames(x509.subjectAltName);
  let matched: boolean;
  switch (kind) {
    case 'san_dns':
      matched = sans.dns.some((dns) => normalizeDns(dns) === normalizeDns(value));
      break;
    case 'san_uri':
      matched = sans.uri.includes(value);
      break;
    case 'san_ip': {
      const expected = normalizeIp(value);
      matched = expected !== undefined && sans.ip.some((ip) => normalizeIp(ip) === expected);
      break;
    }
    case 'san_email':
      matched = sans.email.some((email) => normalizeEmail(email) === normalizeEmail(value));
      break;
  }
  return matched ? undefined : `no ${kind.replace('san_', '')} SAN equals the registered one`;
}

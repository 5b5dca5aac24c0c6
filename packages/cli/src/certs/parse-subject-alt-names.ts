import type { SubjectAltNames } from './subject-alt-names.js';

export interface ParsedSubjectAltNames extends SubjectAltNames {
  /** Entries of other kinds (email, directory names…) the development CA never issues. */
  readonly other: readonly string[];
}

/** `IP Address:0:0:0:0:0:0:0:1` as people write it (`::1`), through the WHATWG host serializer. */
function compressIp(ip: string): string {
  return ip.includes(':') ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}

/**
 * Node's `X509Certificate.subjectAltName` text back into names: `TYPE:value` entries joined by
 * ", ", where a value holding a comma, quote or control character is a JSON string (Node quotes
 * those since CVE-2021-44532 so that the list cannot be forged by a crafted name).
 */
export function parseSubjectAltNames(text: string | undefined): ParsedSubjectAltNames {
  const dns: string[] = [];
  const ip: string[] = [];
  const uri: string[] = [];
  const other: string[] = [];
  let at = 0;
  while (text !== undefined && at < text.length) {
    const colon = text.indexOf(':', at);
    if (colon < 0) throw new Error('malformed subjectAltName');
    const type = text.slice(at, colon);
    let value: string;
    let end: number;
    if (text[colon + 1] === '"') {
      end = colon + 2;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      end += 1;
      value = JSON.parse(text.slice(colon + 1, end)) as string;
    } else {
      end = text.indexOf(', ', colon);
      if (end < 0) end = text.length;
      value = text.slice(colon + 1, end);
    }
    if (type === 'DNS') dns.push(value);
    else if (type === 'IP Address') ip.push(compressIp(value));
    else if (type === 'URI') uri.push(value);
    else other.push(`${type}:${value}`);
    at = end + 2;
  }
  return { dns, ip, uri, other };
}

/**
 * Distinguished names as comparable data: a list of RDNs (most significant first, as encoded in the
 * certificate), each a set of `TYPE=value` attributes with the type normalized and the value
 * unescaped. Values compare exactly (no case folding): the registered DN is an allowlist entry.
 */
export type DistinguishedName = readonly (readonly string[])[];

/** Attribute type names and OIDs (RFC 4514 §3, RFC 4519) to one spelling each. */
const TYPE_ALIASES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  COMMONNAME: 'CN',
  '2.5.4.4': 'SN',
  SURNAME: 'SN',
  '2.5.4.5': 'SERIALNUMBER',
  '2.5.4.6': 'C',
  COUNTRYNAME: 'C',
  '2.5.4.7': 'L',
  LOCALITYNAME: 'L',
  '2.5.4.8': 'ST',
  STATEORPROVINCENAME: 'ST',
  '2.5.4.9': 'STREET',
  STREETADDRESS: 'STREET',
  '2.5.4.10': 'O',
  ORGANIZATIONNAME: 'O',
  '2.5.4.11': 'OU',
  ORGANIZATIONALUNITNAME: 'OU',
  '2.5.4.12': 'TITLE',
  '0.9.2342.19200300.100.1.1': 'UID',
  USERID: 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
  DOMAINCOMPONENT: 'DC',
  '1.2.840.113549.1.9.1': 'EMAILADDRESS',
  E: 'EMAILADDRESS',
  '2.5.4.42': 'GN',
  GIVENNAME: 'GN',
};

const TYPE = /^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)*)$/;

function normalizeType(type: string): string | undefined {
  const trimmed = type.trim();
  if (!TYPE.test(trimmed)) return undefined;
  const upper = trimmed.toUpperCase();
  return TYPE_ALIASES[upper] ?? upper;
}

/**
 * Splits on `separator` where it is not escaped by a backslash. Returns the raw (still escaped)
 * parts.
 */
function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (char === '\\' && i + 1 < text.length) {
      current += char + (text[i + 1] as string);
      i++;
    } else if (text.startsWith(separator, i)) {
      parts.push(current);
      current = '';
      i += separator.length - 1;
    } else {
      current += char;
    }
  }
  parts.push(current);
  return parts;
}

/**
 * RFC 4514 §3 value unescaping: `\` followed by a special character, or by two hex digits (one
 * UTF-8 byte). Unescaped leading and trailing spaces are insignificant; escaped ones are kept.
 * Undefined for a dangling backslash, a bad hex pair or a `#` hex-encoded BER value (not supported).
 */
function unescapeValue(raw: string): string | undefined {
  let start = 0;
  let end = raw.length;
  while (start < end && raw[start] === ' ') start++;
  // A trailing space survives when escaped ("\ "): count backslashes before it.
  while (end > start && raw[end - 1] === ' ') {
    let slashes = 0;
    for (let j = end - 2; j >= start && raw[j] === '\\'; j--) slashes++;
    if (slashes % 2 === 1) break;
    end--;
  }
  const text = raw.slice(start, end);
  if (text.startsWith('#')) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (char !== '\\') {
      bytes.push(...Buffer.from(char, 'utf8'));
      continue;
    }
    const next = text.slice(i + 1, i + 3);
    if (/^[0-9A-Fa-f]{2}$/.test(next)) {
      bytes.push(Number.parseInt(next, 16));
      i += 2;
    } else if (i + 1 < text.length) {
      bytes.push(...Buffer.from(text[i + 1] as string, 'utf8'));
      i += 1;
    } else {
      return undefined;
    }
  }
  const decoded = Buffer.from(bytes);
  const value = decoded.toString('utf8');
  // Escaped bytes that are not UTF-8 would decode to U+FFFD and could collide with another value.
  return Buffer.from(value, 'utf8').equals(decoded) ? value : undefined;
}

function parseRdn(raw: string, separator: string): string[] | undefined {
  const attributes: string[] = [];
  for (const ava of splitUnescaped(raw, separator)) {
    const equals = ava.indexOf('=');
    if (equals <= 0) return undefined;
    const type = normalizeType(ava.slice(0, equals));
    const value = unescapeValue(ava.slice(equals + 1));
    if (type === undefined || value === undefined) return undefined;
    attributes.push(`${type}=${value}`);
  }
  // A multi-valued RDN is a set (X.501): its order carries no meaning.
  return attributes.sort();
}

/**
 * Parses an RFC 4514 string (`CN=partner,O=Example Corp,C=US`: least significant RDN first) into
 * certificate order. Undefined when it is not one.
 */
export function parseRfc4514(text: string): DistinguishedName | undefined {
  if (text.trim() === '') return undefined;
  const rdns: string[][] = [];
  for (const raw of splitUnescaped(text, ',')) {
    const rdn = parseRdn(raw, '+');
    if (rdn === undefined) return undefined;
    rdns.push(rdn);
  }
  return rdns.reverse();
}

/**
 * Parses `X509Certificate#subject` as Node prints it: one RDN per line in certificate order,
 * attributes of a multi-valued RDN joined by ` + `, values escaped as in RFC 2253.
 */
export function parseNodeSubject(subject: string): DistinguishedName | undefined {
  if (subject === '') return [];
  const rdns: string[][] = [];
  for (const line of subject.split('\n')) {
    const rdn = parseRdn(line, ' + ');
    if (rdn === undefined) return undefined;
    rdns.push(rdn);
  }
  return rdns;
}

export function sameDistinguishedName(a: DistinguishedName, b: DistinguishedName): boolean {
  return (
    a.length === b.length &&
    a.every((rdn, i) => {
      const other = b[i] as readonly string[];
      return rdn.length === other.length && rdn.every((attribute, j) => attribute === other[j]);
    })
  );
}

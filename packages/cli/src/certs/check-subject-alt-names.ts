import { isIP } from 'node:net';
import { UsageError } from '../io.js';
import { countSubjectAltNames, type SubjectAltNames } from './subject-alt-names.js';

// RFC 1035 §2.3.1 / RFC 1123 §2.1: letters, digits and inner hyphens, 1 to 63 octets.
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const MAX_DNS_NAME = 253;
// RFC 5280 §4.2.1.6: a uniformResourceIdentifier is an IA5String; printable ASCII, no spaces.
const URI_TEXT = /^[\x21-\x7e]+$/;

function checkDnsName(input: string): string {
  // DNS names compare case-insensitively (RFC 4343); certificates carry them in lower case.
  const name = input.toLowerCase();
  const labels = name.split('.');
  const [first, ...rest] = labels;
  // RFC 6125 §6.4.3: a wildcard only as the whole left-most label, and never directly above a TLD.
  const wildcard = first === '*' && rest.length >= 2;
  const plain = wildcard ? rest : labels;
  const last = labels[labels.length - 1] ?? '';
  const problem =
    name.length === 0 || name.length > MAX_DNS_NAME
      ? 'must be 1 to 253 characters'
      : !plain.every((label) => LABEL.test(label))
        ? 'labels are 1 to 63 of a-z, 0-9 and inner "-" (IDNs in their xn-- form; a wildcard only as "*.")'
        : /^[0-9]+$/.test(last)
          ? 'an all-numeric top label is an IP address: use --ip (RFC 5280 §4.2.1.6 iPAddress)'
          : undefined;
  if (problem !== undefined) throw new UsageError(`--dns ${JSON.stringify(input)}: ${problem}`);
  return name;
}

function checkIpAddress(input: string): string {
  // A zone (`fe80::1%eth0`) is local to one host; the iPAddress SAN is only the 4 or 16 octets.
  if (input.includes('%') || isIP(input) === 0) {
    throw new UsageError(`--ip ${JSON.stringify(input)}: not an IPv4 or IPv6 address`);
  }
  return input;
}

function checkUri(input: string): string {
  // RFC 5280 §4.2.1.6: never a relative reference, and an authority-based URI names its host.
  const url = URI_TEXT.test(input) && URL.canParse(input) ? new URL(input) : undefined;
  const hasAuthority = url !== undefined && input.slice(url.protocol.length).startsWith('//');
  if (url === undefined || (hasAuthority && url.host === '')) {
    throw new UsageError(
      `--uri ${JSON.stringify(input)}: an absolute URI such as spiffe://gatehouse.local/name or https://host/`,
    );
  }
  return input;
}

const unique = (values: readonly string[]): string[] => [...new Set(values)];

/**
 * The SANs of `certs issue`, checked and normalised (DNS names lower-cased, repeats dropped). At
 * least one is required: clients match the SAN, never the CN (RFC 6125 §6.4.4, RFC 9110 §4.3.4).
 */
export function checkSubjectAltNames(input: SubjectAltNames): SubjectAltNames {
  const sans = {
    dns: unique(input.dns.map(checkDnsName)),
    ip: unique(input.ip.map(checkIpAddress)),
    uri: unique(input.uri.map(checkUri)),
  };
  if (countSubjectAltNames(sans) === 0) {
    throw new UsageError('at least one subject alternative name is required: --dns, --ip or --uri');
  }
  return sans;
}

import { isIPv6 } from 'node:net';

/**
 * The IPv6 prefix length a client is counted by when none is configured. An IPv6 client usually
 * holds a whole /64 (RFC 7421: the standard subnet size; SLAAC and privacy addresses, RFC 8981,
 * rotate within it), so counting it per address would let it rotate past every limit and ban.
 */
export const DEFAULT_IPV6_CLIENT_PREFIX = 64;

/** Addresses whose network one function keeps (emptied when full, as the IP sets' answers). */
const MEMO_ENTRIES = 4096;

/**
 * Parses an IPv6 address (RFC 4291 §2.2: hex groups, one `::`, an IPv4 tail) into 16 bytes;
 * undefined for anything else. Zone indexes (`%eth0`) are not addresses of a client.
 */
export function parseIpv6(address: string): Uint8Array | undefined {
  if (!isIPv6(address) || address.includes('%')) return undefined;
  let text = address;
  let tailWords: number[] = [];
  if (text.includes('.')) {
    // The last 32 bits as a dotted quad (RFC 4291 §2.2, form 3): two groups.
    const lastColon = text.lastIndexOf(':');
    const [a = 0, b = 0, c = 0, d = 0] = text
      .slice(lastColon + 1)
      .split('.')
      .map(Number);
    tailWords = [(a << 8) | b, (c << 8) | d];
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const groups = (part: string): number[] =>
    part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16));
  const gap = text.indexOf('::');
  let words: number[];
  if (gap === -1) {
    words = [...groups(text), ...tailWords];
  } else {
    const head = groups(text.slice(0, gap));
    const rest = [...groups(text.slice(gap + 2)), ...tailWords];
    words = [...head, ...new Array<number>(Math.max(0, 8 - head.length - rest.length)).fill(0), ...rest];
  }
  if (words.length !== 8) return undefined;
  const bytes = new Uint8Array(16);
  words.forEach((word, i) => {
    bytes[i * 2] = word >> 8;
    bytes[i * 2 + 1] = word & 0xff;
  });
  return bytes;
}

/**
 * The IPv4 address of an IPv4-mapped IPv6 address (`::ffff:0:0/96`, RFC 4291 §2.5.5.2) in any
 * spelling (`::ffff:c000:201` too, not only the dotted form sockets report); undefined otherwise.
 */
export function mappedIpv4(bytes: Uint8Array): Uint8Array | undefined {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return undefined;
  return bytes[10] === 0xff && bytes[11] === 0xff ? bytes.slice(12) : undefined;
}

/** RFC 5952 §4: lower-case hex, no leading zeros, the longest run (≥ 2) of zero groups as `::`. */
export function formatIpv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && words[end] === 0) end++;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = (from: number, to: number): string =>
    words
      .slice(from, to)
      .map((word) => word.toString(16))
      .join(':');
  if (bestStart === -1) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

/** Zeroes every bit of `bytes` after the first `prefix` (a copy). */
export function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const masked = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    masked[i] = (bytes[i] ?? 0) & ((0xff << (8 - keep)) & 0xff);
  }
  return masked;
}

/**
 * What the gateway counts a client by, from its (normalized) address: an IPv4 address as it is, an
 * IPv6 address as its network of `ipv6Prefix` bits in CIDR form (`2001:db8:1:2::/64`), or as it is
 * when `ipv6Prefix` is 128. Rate limits keyed by `ip`, brute-force counts, the abuse detectors and
 * their automatic bans all use it, so that a client cannot rotate its way past them within the
 * block it holds. Answers are kept per address.
 */
export function createClientNetworks(ipv6Prefix: number): (ip: string) => string {
  if (!(Number.isInteger(ipv6Prefix) && ipv6Prefix >= 1 && ipv6Prefix <= 128))
    throw new RangeError('the IPv6 client prefix must be an integer from 1 to 128');
  if (ipv6Prefix === 128) return (ip) => ip;
  const memo = new Map<string, string>();
  return (ip) => {
    // IPv4 (sockets report it dotted, `::ffff:` removed by then): the address itself, no lookup.
    if (!ip.includes(':')) return ip;
    const known = memo.get(ip);
    if (known !== undefined) return known;
    // Anything unparsable (not a socket address) is its own key.
    const bytes = parseIpv6(ip);
    const ipv4 = bytes === undefined ? undefined : mappedIpv4(bytes);
    const network =
      bytes === undefined
        ? ip
        : ipv4 !== undefined
          ? ipv4.join('.')
          : `${formatIpv6(maskBytes(bytes, ipv6Prefix))}/${String(ipv6Prefix)}`;
    if (memo.size >= MEMO_ENTRIES) memo.clear();
    memo.set(ip, network);
    return network;
  };
}

import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { mappedIpv4, maskBytes, parseIpv6 } from './client-network.js';

/** A set of IPv4/IPv6 addresses and CIDR blocks (trusted proxies, allow and deny lists). */
export interface IpSet {
  readonly size: number;
  contains(ip: string): boolean;
  /**
   * Whether the set shares an address with `subject`, an address or a CIDR block: a block one of
   * whose addresses is in the set overlaps it (automatic bans of a client's IPv6 network spare a
   * network that holds an exempt address).
   */
  overlaps(subject: string): boolean;
}

/** `::ffff:192.0.2.1` (an IPv4 client on a dual-stack socket) is `192.0.2.1`. */
export function normalizeIp(ip: string): string {
  const lower = ip.toLowerCase();
  if (lower.startsWith('::ffff:') && isIPv4(lower.slice(7))) return lower.slice(7);
  return lower;
}

function familyOf(address: string): 'ipv4' | 'ipv6' {
  if (isIPv4(address)) return 'ipv4';
  if (isIPv6(address)) return 'ipv6';
  throw new TypeError(`not an IP address: ${address}`);
}

/** Builds the set from `192.0.2.7`, `10.0.0.0/8`, `2001:db8::/32`…; throws a TypeError on anything else. */
export function buildIpSet(entries: readonly string[]): IpSet {
  const list = new BlockList();
  const blocks: Block[] = [];
  for (const entry of entries) {
    const [address = '', prefix, extra] = entry.trim().split('/');
    const normalized = normalizeIp(address);
    const family = familyOf(normalized);
    if (extra !== undefined) throw new TypeError(`not a CIDR block: ${entry}`);
    blocks.push(parseBlock(entry));
    if (prefix === undefined) {
      list.addAddress(normalized, family);
      continue;
    }
    const bits = /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
    if (!(bits >= 0 && bits <= (family === 'ipv4' ? 32 : 128)))
      throw new TypeError(`bad prefix length: ${entry}`);
    list.addSubnet(normalized, bits, family);
  }
  if (entries.length === 0) return EMPTY;
  // BlockList.check builds a SocketAddress per call (about 12 µs, more than the rest of a proxied
  // request's pipeline); the set never changes, so answers are kept per address as asked. Emptied
  // when full: a spray of addresses only brings back the uncached cost, never a wrong answer.
  const memo = new Map<string, boolean>();
  return {
    size: entries.length,
    contains(ip) {
      const known = memo.get(ip);
      if (known !== undefined) return known;
      const normalized = normalizeIp(ip);
      const found = isIPv4(normalized)
        ? list.check(normalized, 'ipv4')
        : isIPv6(normalized) && list.check(normalized, 'ipv6');
      if (memo.size >= MEMO_ENTRIES) memo.clear();
      memo.set(ip, found);
      return found;
    },
    overlaps(subject) {
      const other = parseBlock(subject);
      return blocks.some((block) => {
        if (block.bytes.length !== other.bytes.length) return false;
        const bits = Math.min(block.prefix, other.prefix);
        const a = maskBytes(block.bytes, bits);
        const b = maskBytes(other.bytes, bits);
        return a.every((byte, i) => byte === b[i]);
      });
    },
  };
}

interface Block {
  /** 4 bytes (IPv4) or 16 (IPv6). */
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

/** `192.0.2.7` (a /32), `10.0.0.0/8`, `2001:db8::/32`… as bytes and a prefix; throws a TypeError. */
function parseBlock(entry: string): Block {
  const [address = '', prefix] = entry.trim().split('/');
  const normalized = normalizeIp(address);
  if (isIPv4(normalized)) {
    const bytes = Uint8Array.from(normalized.split('.').map(Number));
    return { bytes, prefix: prefix === undefined ? 32 : Number(prefix) };
  }
  const bytes = parseIpv6(normalized);
  if (bytes === undefined) throw new TypeError(`not an IP address: ${entry}`);
  const bits = prefix === undefined ? 128 : Number(prefix);
  // An IPv4-mapped block at least 96 bits long is the IPv4 block it maps.
  const ipv4 = bits >= 96 ? mappedIpv4(bytes) : undefined;
  return ipv4 === undefined ? { bytes, prefix: bits } : { bytes: ipv4, prefix: bits - 96 };
}

/** Addresses whose answer one set keeps. */
const MEMO_ENTRIES = 4096;

const EMPTY: IpSet = { size: 0, contains: () => false, overlaps: () => false };

import { describe, expect, it } from 'vitest';
import { normalizeBanSubject } from '../limits/ban-list.js';
import { createClientNetworks, formatIpv6, maskBytes, parseIpv6 } from './client-network.js';

describe('parseIpv6 and formatIpv6 (RFC 4291 §2.2, RFC 5952 §4)', () => {
  it.each([
    // RFC 5952 §4.2.1–4.2.3 and §4.3: shortest form, longest zero run, the first of equal runs,
    // never `::` for one zero group, lower case.
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:DB8::ABCD', '2001:db8::abcd'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['1:2:3:4:5:6:7.8.9.10', '1:2:3:4:5:6:708:90a'],
    ['::7.8.9.10', '::708:90a'],
  ])('%s → %s', (input, expected) => {
    const bytes = parseIpv6(input);
    expect(bytes).toBeDefined();
    expect(formatIpv6(bytes as Uint8Array)).toBe(expected);
  });

  it.each(['192.0.2.1', 'fe80::1%eth0', '2001:db8::1::2', '1:2:3:4:5:6:7:8:9', 'example.com', ''])(
    'refuses %s',
    (input) => {
      expect(parseIpv6(input)).toBeUndefined();
    },
  );

  it('masks a prefix bit by bit', () => {
    const bytes = parseIpv6('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff') as Uint8Array;
    expect(formatIpv6(maskBytes(bytes, 64))).toBe('2001:db8:ffff:ffff::');
    expect(formatIpv6(maskBytes(bytes, 36))).toBe('2001:db8:f000::');
    expect(formatIpv6(maskBytes(bytes, 0))).toBe('::');
    expect(formatIpv6(maskBytes(bytes, 128))).toBe('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff');
  });
});

describe('createClientNetworks', () => {
  const per64 = createClientNetworks(64);

  it.each([
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8::/64'],
    ['fe80::1234', 'fe80::/64'],
    ['::1', '::/64'],
    ['64:ff9b::192.0.2.33', '64:ff9b::/64'],
    ['192.0.2.1', '192.0.2.1'], // IPv4: per address
    ['::ffff:c000:201', '192.0.2.1'], // IPv4-mapped in hex groups: the IPv4 address, not `::/64`
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::c000:201', '::/64'], // IPv4-compatible (deprecated): an IPv6 address like any other
    ['not-an-address', 'not-an-address'], // not a socket address: its own key, never merged
  ])('%s → %s', (ip, network) => {
    expect(per64(ip)).toBe(network);
    expect(per64(ip)).toBe(network); // from the memo
  });

  it('other prefixes, and 128 returns the address itself', () => {
    expect(createClientNetworks(48)('2001:db8:1:2::9')).toBe('2001:db8:1::/48');
    expect(createClientNetworks(56)('2001:db8:1:2ff::9')).toBe('2001:db8:1:200::/56');
    expect(createClientNetworks(128)('2001:db8:1:2::9')).toBe('2001:db8:1:2::9');
  });

  it.each([0, 129, 64.5, Number.NaN])('refuses the prefix %s', (prefix) => {
    expect(() => createClientNetworks(prefix)).toThrow(RangeError);
  });

  it('spells each network as the ban list does, so a ban of it is found by exact lookup', () => {
    let seed = 7;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let i = 0; i < 2000; i++) {
      // Random groups with many zeros, so that runs of zeros of every length and place occur.
      const groups = Array.from({ length: 8 }, () =>
        next() % 3 === 0 ? (next() % 65536).toString(16) : '0',
      );
      const network = per64(groups.join(':'));
      expect(network).toBe(normalizeBanSubject(network));
    }
  });

  it('answers the same past its memo of 4,096 addresses', () => {
    for (let i = 0; i < 8192; i++) {
      expect(per64(`2001:db8:${(i >> 4).toString(16)}:1::${(i & 15).toString(16)}`)).toBe(
        `2001:db8:${(i >> 4).toString(16)}:1::/64`,
      );
    }
  });
});

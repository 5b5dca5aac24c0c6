import { describe, expect, it } from 'vitest';
import { buildIpSet, normalizeIp } from './ip-set.js';

describe('buildIpSet', () => {
  const set = buildIpSet(['192.0.2.7', '10.0.0.0/8', '2001:db8::/32', '::1']);

  it.each([
    ['192.0.2.7', true],
    ['::ffff:192.0.2.7', true],
    ['192.0.2.8', false],
    ['10.255.1.2', true],
    ['11.0.0.1', false],
    ['2001:db8:1::5', true],
    ['2001:DB8::1', true],
    ['2001:db9::1', false],
    ['::1', true],
    ['not-an-ip', false],
    ['', false],
  ])('%s → %s', (ip, expected) => {
    expect(set.contains(ip)).toBe(expected);
  });

  it.each([
    '300.1.1.1',
    '10.0.0.0/33',
    '2001:db8::/129',
    '10.0.0.0/8/1',
    'example.com',
    '10.0.0.0/x',
    '10.0.0.0/',
  ])('refuses %s', (entry) => {
    expect(() => buildIpSet([entry])).toThrow(TypeError);
  });

  it('an empty set contains nothing', () => {
    expect(buildIpSet([]).contains('127.0.0.1')).toBe(false);
    expect(buildIpSet([]).size).toBe(0);
  });

  it('normalizes IPv4-mapped IPv6 addresses only', () => {
    expect(normalizeIp('::FFFF:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeIp('::ffff:7f00:1')).toBe('::ffff:7f00:1');
  });

  it('answers the same when asked again, in another spelling, and past its memo of 4,096 addresses', () => {
    const set = buildIpSet(['10.0.0.0/8', '2001:db8::/32']);
    for (let round = 0; round < 2; round++) {
      expect(set.contains('10.1.2.3')).toBe(true);
      expect(set.contains('::ffff:10.1.2.3')).toBe(true);
      expect(set.contains('2001:DB8::5')).toBe(true);
      expect(set.contains('192.0.2.1')).toBe(false);
    }
    // Twice the memo: the answers of a spray of addresses are each computed and never mixed up.
    for (let i = 0; i < 8192; i++) {
      const inside = `10.0.${i >> 8}.${i & 255}`;
      const outside = `11.0.${i >> 8}.${i & 255}`;
      expect(set.contains(inside)).toBe(true);
      expect(set.contains(outside)).toBe(false);
    }
    expect(set.contains('10.1.2.3')).toBe(true);
    expect(set.contains('192.0.2.1')).toBe(false);
  });
});

describe('IpSet.overlaps', () => {
  const set = buildIpSet(['192.0.2.7', '10.0.0.0/8', '2001:db8:ee:1::7', '2001:db8:aa::/48']);

  it.each([
    ['192.0.2.7', true],
    ['192.0.2.0/24', true],
    ['192.0.2.8', false],
    ['192.0.3.0/24', false],
    ['10.1.0.0/16', true],
    ['8.0.0.0/6', true], // a block around a listed block
    ['2001:db8:ee:1::/64', true], // the /64 of a listed address
    ['2001:db8:ee:2::/64', false],
    ['2001:db8:aa:5::/64', true], // inside a listed block
    ['2001:db8::/32', true], // around a listed block
    ['2001:db8:ab::/48', false],
    ['::ffff:192.0.2.7', true],
    ['::ffff:c000:207/128', true], // the same address, IPv4-mapped in hex groups
  ])('%s → %s', (subject, expected) => {
    expect(set.overlaps(subject)).toBe(expected);
  });

  it('compares families apart, and an empty set overlaps nothing', () => {
    expect(buildIpSet(['0.0.0.0/0']).overlaps('2001:db8::/64')).toBe(false);
    expect(buildIpSet(['::/0']).overlaps('2001:db8::/64')).toBe(true);
    expect(buildIpSet([]).overlaps('192.0.2.7')).toBe(false);
  });

  it('refuses what is not an address or block', () => {
    expect(() => set.overlaps('example.com')).toThrow(TypeError);
  });
});

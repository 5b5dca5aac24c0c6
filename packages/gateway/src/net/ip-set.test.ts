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
});

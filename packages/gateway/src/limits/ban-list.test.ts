import { describe, expect, it } from 'vitest';
import { normalizeBanSubject } from './ban-list.js';

describe('normalizeBanSubject', () => {
  it.each([
    ['192.0.2.7', '192.0.2.7'],
    [' 192.0.2.7 ', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['::FFFF:192.0.2.7', '192.0.2.7'],
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['10.0.0.0/08', '10.0.0.0/8'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['2001:DB8:0::/048', '2001:db8::/48'],
  ])('%s → %s', (subject, expected) => {
    expect(normalizeBanSubject(subject)).toBe(expected);
  });

  it.each([
    '',
    'example.com',
    '192.0.2',
    '192.0.2.256',
    '10.0.0.0/33',
    '2001:db8::/129',
    'fe80::1%eth0',
    '1.2.3.4/8/1',
    '10.0.0.0/-1',
  ])('refuses %j', (subject) => {
    expect(() => normalizeBanSubject(subject)).toThrow(TypeError);
  });
});

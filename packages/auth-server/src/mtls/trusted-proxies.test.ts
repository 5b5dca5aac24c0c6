import { describe, expect, it } from 'vitest';
import { createTrustedProxies, parseCidr } from './trusted-proxies.js';

describe('trusted proxies', () => {
  const trusted = createTrustedProxies(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32']);

  it.each([
    ['10.1.2.3', true],
    ['::ffff:10.1.2.3', true],
    ['192.0.2.7', true],
    ['192.0.2.8', false],
    ['11.0.0.1', false],
    ['2001:db8::1', true],
    ['2001:db9::1', false],
    ['::ffff:192.0.2.8', false],
    ['not an address', false],
    [undefined, false],
  ])('%s → %s', (address, expected) => {
    expect(trusted(address)).toBe(expected);
  });

  it('an empty list trusts nobody', () => {
    expect(createTrustedProxies([])('127.0.0.1')).toBe(false);
  });

  it.each(['10.0.0.0/33', '10.0.0.0/08', '::/129', 'host.example', '10.0.0.1/8/1', '10.0.0.0/', ''])(
    'refuses %j',
    (entry) => {
      expect(parseCidr(entry)).toBeUndefined();
      expect(() => createTrustedProxies([entry])).toThrow(TypeError);
    },
  );
});

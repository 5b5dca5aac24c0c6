import { describe, expect, it } from 'vitest';
import { buildIpRules } from './ip-rules.js';

describe('buildIpRules', () => {
  const open = buildIpRules({ allow: [], deny: ['203.0.113.0/24', '2001:db8:bad::/48', '198.51.100.7'] });
  const closed = buildIpRules({
    allow: ['10.0.0.0/8', '2001:db8::/32'],
    deny: ['10.6.6.0/24', '2001:db8:bad::/48'],
  });

  it.each([
    [open, '192.0.2.1', 'allow'],
    [open, '203.0.113.9', 'deny'],
    [open, '::ffff:203.0.113.9', 'deny'],
    [open, '198.51.100.7', 'deny'],
    [open, '198.51.100.8', 'allow'],
    [open, '2001:db8:bad:1::1', 'deny'],
    [open, '2001:DB8:BAD::1', 'deny'],
    [open, '2001:db8:bae::1', 'allow'],
    [closed, '10.1.2.3', 'allow'],
    [closed, '::ffff:10.1.2.3', 'allow'],
    [closed, '11.1.2.3', 'deny'],
    // Deny wins over allow.
    [closed, '10.6.6.6', 'deny'],
    [closed, '2001:db8::1', 'allow'],
    [closed, '2001:db8:bad::1', 'deny'],
    [closed, '2001:db9::1', 'deny'],
    // Not an address (never from a socket, but never admitted by an allow list either).
    [closed, 'not-an-ip', 'deny'],
    [open, 'not-an-ip', 'allow'],
  ] as const)('%#: %s → %s', (rules, ip, expected) => {
    expect(rules.decide(ip)).toBe(expected);
  });

  it('refuses a bad entry when built', () => {
    expect(() => buildIpRules({ allow: ['10.0.0.0/33'], deny: [] })).toThrow(TypeError);
    expect(() => buildIpRules({ allow: [], deny: ['example.com'] })).toThrow(TypeError);
  });
});

import { describe, expect, it } from 'vitest';
import { buildIpSet } from '../net/ip-set.js';
import { resolveClientIp } from './client-ip.js';

describe('resolveClientIp', () => {
  const trusted = buildIpSet(['10.0.0.0/8', '2001:db8:ffff::/48']);

  // socket peer, X-Forwarded-For → client
  const cases: ReadonlyArray<readonly [string, string, string | undefined, string]> = [
    ['untrusted peer, no header', '203.0.113.9', undefined, '203.0.113.9'],
    ['untrusted peer: a spoofed header is ignored', '203.0.113.9', '198.51.100.1', '203.0.113.9'],
    ['untrusted peer: spoofing a trusted proxy is ignored', '203.0.113.9', '10.0.0.1', '203.0.113.9'],
    ['IPv4-mapped peer is normalized', '::ffff:203.0.113.9', '198.51.100.1', '203.0.113.9'],
    ['IPv6 peer is lower-cased', '2001:DB8::1', undefined, '2001:db8::1'],
    ['trusted peer, no header', '10.0.0.1', undefined, '10.0.0.1'],
    ['trusted peer, one client', '10.0.0.1', '198.51.100.1', '198.51.100.1'],
    ['trusted IPv4-mapped peer', '::ffff:10.0.0.1', '198.51.100.1', '198.51.100.1'],
    ['walks past trusted hops', '10.0.0.1', '198.51.100.1, 10.0.0.3, 10.0.0.2', '198.51.100.1'],
    ['client-prepended entries are not believed', '10.0.0.1', '1.2.3.4, 198.51.100.1', '198.51.100.1'],
    [
      'a spoofed trusted address left of the client is not reached',
      '10.0.0.1',
      '10.9.9.9, 198.51.100.1',
      '198.51.100.1',
    ],
    ['no spaces after commas', '10.0.0.1', '1.2.3.4,198.51.100.1,10.0.0.2', '198.51.100.1'],
    ['duplicate headers joined by Node', '10.0.0.1', '1.2.3.4, 198.51.100.1, 10.0.0.2', '198.51.100.1'],
    ['all hops trusted → leftmost', '10.0.0.1', '10.0.0.4, 10.0.0.3', '10.0.0.4'],
    ['IPv6 client behind an IPv6 proxy', '2001:db8:ffff::1', '2001:DB8:1::7', '2001:db8:1::7'],
    ['IPv4-mapped entry is normalized', '10.0.0.1', '::ffff:198.51.100.1', '198.51.100.1'],
    ['empty header → last trusted hop', '10.0.0.1', '', '10.0.0.1'],
    ['garbage → last trusted hop', '10.0.0.1', 'unknown', '10.0.0.1'],
    ['garbage after a trusted hop', '10.0.0.1', 'evil, 10.0.0.2', '10.0.0.2'],
    ['garbage left of the client does not matter', '10.0.0.1', 'evil, 198.51.100.1', '198.51.100.1'],
    ['empty entry stops the walk', '10.0.0.1', '198.51.100.1, , 10.0.0.2', '10.0.0.2'],
    ['trailing comma stops the walk', '10.0.0.1', '198.51.100.1,', '10.0.0.1'],
    ['leading comma after all trusted', '10.0.0.1', ',10.0.0.2', '10.0.0.2'],
    ['entry with a port is malformed', '10.0.0.1', '198.51.100.1:4711', '10.0.0.1'],
    ['bracketed IPv6 is malformed', '10.0.0.1', '[2001:db8::1]', '10.0.0.1'],
    ['CR/LF junk is malformed', '10.0.0.1', '198.51.100.1\r\nx', '10.0.0.1'],
    ['an address with a CIDR suffix is malformed', '10.0.0.1', '198.51.100.0/24', '10.0.0.1'],
  ];

  it.each(cases)('%s', (_, socketIp, xff, expected) => {
    expect(resolveClientIp(socketIp, xff, trusted)).toBe(expected);
  });

  it('with no trusted proxies the socket always wins', () => {
    expect(resolveClientIp('10.0.0.1', '198.51.100.1', buildIpSet([]))).toBe('10.0.0.1');
  });
});

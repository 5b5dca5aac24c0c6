import { describe, expect, it } from 'vitest';
import { isAllowedEndpoint, metadataUrl } from './discover-endpoints.js';

describe('discovery helpers', () => {
  it.each([
    ['https://auth.example/token', true],
    ['http://127.0.0.1:4000/token', true],
    ['http://localhost/token', true],
    ['http://[::1]:4000/token', true],
    ['http://auth.example/token', false],
    ['ftp://auth.example/token', false],
    ['https://user:pw@auth.example/token', false],
    ['https://auth.example/token#frag', false],
    ['/token', false],
  ])('%s allowed: %s', (url, allowed) => {
    expect(isAllowedEndpoint(url)).toBe(allowed);
  });

  it('puts the well-known segment between host and path (RFC 8414 §3.1)', () => {
    expect(metadataUrl('https://auth.example')).toBe(
      'https://auth.example/.well-known/oauth-authorization-server',
    );
    expect(metadataUrl('https://auth.example/tenant-a')).toBe(
      'https://auth.example/.well-known/oauth-authorization-server/tenant-a',
    );
  });
});

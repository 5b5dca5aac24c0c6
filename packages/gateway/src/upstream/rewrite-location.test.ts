import { describe, expect, it } from 'vitest';
import { rewriteLocation, type LocationMapping } from './rewrite-location.js';

const MAPPING: LocationMapping = {
  upstreamBases: ['http://10.0.0.5:8080', 'http://accounts.internal'],
  upstreamPrefix: '/internal/v1',
  publicPrefix: '/api/accounts',
  publicOrigin: 'https://api.example.com',
};

describe('rewriteLocation', () => {
  it.each([
    // absolute, at an upstream target
    ['http://10.0.0.5:8080/internal/v1/items/7', 'https://api.example.com/api/accounts/items/7'],
    [
      'http://10.0.0.5:8080/internal/v1/items?page=2#top',
      'https://api.example.com/api/accounts/items?page=2#top',
    ],
    ['http://10.0.0.5:8080/internal/v1', 'https://api.example.com/api/accounts'],
    ['http://10.0.0.5:8080/internal/v1/', 'https://api.example.com/api/accounts/'],
    ['HTTP://ACCOUNTS.INTERNAL:80/internal/v1/x', 'https://api.example.com/api/accounts/x'],
    ['//accounts.internal/internal/v1/x', 'https://api.example.com/api/accounts/x'],
    // path-absolute, under the upstream prefix
    ['/internal/v1/items/7', '/api/accounts/items/7'],
    ['/internal/v1?q=1', '/api/accounts?q=1'],
    // relative to the request: nothing internal in it
    ['next', 'next'],
    ['?page=3', '?page=3'],
    ['#section', '#section'],
    // other hosts are the upstream's business
    ['https://login.example.com/authorize?x=1', 'https://login.example.com/authorize?x=1'],
    ['http://10.0.0.5:9090/internal/v1/x', 'http://10.0.0.5:9090/internal/v1/x'],
    ['https://10.0.0.5:8080/internal/v1/x', 'https://10.0.0.5:8080/internal/v1/x'],
  ])('%s → %s', (location, expected) => {
    expect(rewriteLocation(location, MAPPING)).toBe(expected);
  });

  // Internal locations that cannot be expressed publicly are dropped rather than leaked.
  it.each([
    'http://10.0.0.5:8080/admin',
    'http://10.0.0.5:8080/internal/v10/x',
    'http://accounts.internal/internal/v1/../../admin',
    '/admin',
    '/internal/v1x',
    '/internal/v1/../../admin',
    '/internal/v1/%2e%2e/%2e%2e/admin',
    '/\\accounts.internal/admin',
    '//accounts.internal/admin',
    'http://[::1',
  ])('drops %s', (location) => {
    expect(rewriteLocation(location, MAPPING)).toBeUndefined();
  });

  it('strips a target base path before the upstream prefix', () => {
    const mapping: LocationMapping = {
      upstreamBases: ['http://svc:8080/base/'],
      upstreamPrefix: '/',
      publicPrefix: '/pub/',
      publicOrigin: 'https://example.com/',
    };
    expect(rewriteLocation('http://svc:8080/base/x', mapping)).toBe('https://example.com/pub/x');
    expect(rewriteLocation('http://svc:8080/base', mapping)).toBe('https://example.com/pub/');
    expect(rewriteLocation('/base/x?y', mapping)).toBe('/pub/x?y');
    expect(rewriteLocation('http://svc:8080/other', mapping)).toBeUndefined();
    expect(rewriteLocation('/other', mapping)).toBeUndefined();
  });

  it('maps root prefixes and tolerates no (or unparseable) bases', () => {
    const mapping: LocationMapping = {
      upstreamBases: [],
      upstreamPrefix: '',
      publicPrefix: '',
      publicOrigin: 'https://example.com',
    };
    expect(rewriteLocation('/a/b', mapping)).toBe('/a/b');
    expect(rewriteLocation('/', mapping)).toBe('/');
    expect(rewriteLocation('http://svc/x', mapping)).toBe('http://svc/x');
    expect(rewriteLocation('/a', { ...mapping, upstreamBases: ['not a url'] })).toBe('/a');
    expect(rewriteLocation('http://svc/x', { ...mapping, upstreamBases: ['not a url'] })).toBe(
      'http://svc/x',
    );
  });
});

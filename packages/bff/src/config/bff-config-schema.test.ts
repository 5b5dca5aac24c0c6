import { describe, expect, it } from 'vitest';
import { buildBffConfig, type BffConfigInput } from './bff-config-schema.js';

const minimal: BffConfigInput = {
  publicUrl: 'https://bff.example',
  oidc: { issuer: 'https://id.example', clientId: 'bff', clientSecret: 's3cret' },
  gateway: { url: 'https://api.example' },
};

describe('bffConfigSchema', () => {
  it('fills defaults and freezes', () => {
    const config = buildBffConfig(minimal);
    expect(config.session).toMatchObject({
      idleTimeoutSec: 1800,
      absoluteTimeoutSec: 28_800,
      sameSite: 'lax',
    });
    expect(config.oidc.scopes).toEqual(['openid', 'profile']);
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 3000 });
    expect(Object.isFrozen(config.session)).toBe(true);
  });

  it.each<[string, BffConfigInput]>([
    ['unknown key', { ...minimal, extra: 1 } as BffConfigInput],
    ['plain http public URL off loopback', { ...minimal, publicUrl: 'http://bff.example' }],
    ['public URL with a path', { ...minimal, publicUrl: 'https://bff.example/app' }],
    [
      'plain http issuer off loopback',
      { ...minimal, oidc: { ...minimal.oidc, issuer: 'http://id.example' } },
    ],
    ['null as allowed origin', { ...minimal, allowedOrigins: ['null'] }],
    ['wildcard origin', { ...minimal, allowedOrigins: ['*'] }],
    ['origin with trailing slash', { ...minimal, allowedOrigins: ['https://app.example/'] }],
    ['origin in upper case', { ...minimal, allowedOrigins: ['https://APP.example'] }],
    ['origin with default port', { ...minimal, allowedOrigins: ['https://app.example:443'] }],
    ['scopes without openid', { ...minimal, oidc: { ...minimal.oidc, scopes: ['profile'] } }],
    ['idle longer than absolute', { ...minimal, session: { idleTimeoutSec: 100, absoluteTimeoutSec: 50 } }],
    ['short encryption key', { ...minimal, session: { encryptionKey: 'abc' } }],
    ['short admin token', { ...minimal, admin: { token: 'short' } }],
    [
      'TLS on the listener with a plain-http public URL',
      { ...minimal, publicUrl: 'http://127.0.0.1:3000', listen: { tls: { certFile: 'c', keyFile: 'k' } } },
    ],
    [
      'required client certificates without a CA',
      { ...minimal, listen: { tls: { certFile: 'c', keyFile: 'k', clientAuth: 'require' } } },
    ],
  ])('refuses %s', (_name, input) => {
    expect(() => buildBffConfig(input)).toThrow();
  });

  it('accepts plain http on loopback for development', () => {
    expect(() =>
      buildBffConfig({
        ...minimal,
        publicUrl: 'http://127.0.0.1:3000',
        oidc: { ...minimal.oidc, issuer: 'http://localhost:4000' },
      }),
    ).not.toThrow();
  });
});

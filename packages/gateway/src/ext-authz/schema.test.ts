import { describe, expect, it } from 'vitest';
import { buildGatewayConfig, gatewayConfigSchema } from '../config/schema.js';

const base = {
  upstreams: { app: { targets: ['http://127.0.0.1:8081'] } },
  routes: [{ id: 'public', match: { pathPrefix: '/public' }, upstream: 'app', auth: 'none' as const }],
};

describe('extAuthz configuration', () => {
  it('is off unless configured, and defaults to a loopback listener on /_gatehouse/ext-authz', () => {
    expect(buildGatewayConfig(base).extAuthz).toBeUndefined();
    expect(
      buildGatewayConfig({ ...base, trustedProxies: ['127.0.0.1'], extAuthz: { style: 'nginx' } }).extAuthz,
    ).toEqual({
      style: 'nginx',
      listen: { host: '127.0.0.1', port: 9191 },
      path: '/_gatehouse/ext-authz',
      tokenHeader: 'authorization',
    });
  });

  it('takes the TLS block of the other listeners, with its defaults', () => {
    expect(
      buildGatewayConfig({
        ...base,
        trustedProxies: ['127.0.0.1'],
        extAuthz: {
          style: 'nginx',
          listen: {
            tls: { certFile: 'a.pem', keyFile: 'a-key.pem', caFile: 'ca.pem', clientAuth: 'require' },
          },
        },
      }).extAuthz?.listen,
    ).toEqual({
      host: '127.0.0.1',
      port: 9191,
      tls: {
        certFile: 'a.pem',
        keyFile: 'a-key.pem',
        caFile: 'ca.pem',
        clientAuth: 'require',
        minVersion: 'TLSv1.2',
      },
    });
  });

  it.each([
    { name: 'without trustedProxies', extra: {}, extAuthz: { style: 'envoy' }, message: /trustedProxies/ },
    { name: 'an unknown style', extra: { trustedProxies: ['10.0.0.1'] }, extAuthz: { style: 'haproxy' } },
    {
      name: 'an unknown key',
      extra: { trustedProxies: ['10.0.0.1'] },
      extAuthz: { style: 'envoy', tls: {} },
    },
    {
      name: 'a path with a dot-segment',
      extra: { trustedProxies: ['10.0.0.1'] },
      extAuthz: { style: 'envoy', path: '/a/../b' },
    },
    {
      name: 'a path with a trailing slash',
      extra: { trustedProxies: ['10.0.0.1'] },
      extAuthz: { style: 'envoy', path: '/a/' },
    },
    {
      name: 'a path with an escape',
      extra: { trustedProxies: ['10.0.0.1'] },
      extAuthz: { style: 'envoy', path: '/a%2fb' },
    },
    {
      name: 'mutual TLS without the CA of the data planes',
      extra: { trustedProxies: ['10.0.0.1'] },
      extAuthz: {
        style: 'envoy',
        listen: { tls: { certFile: 'a.pem', keyFile: 'a-key.pem', clientAuth: 'require' } },
      },
      message: /caFile/,
    },
    {
      name: 'an unknown TLS key',
      extra: { trustedProxies: ['10.0.0.1'] },
      extAuthz: {
        style: 'envoy',
        listen: { tls: { certFile: 'a.pem', keyFile: 'a-key.pem', ciphers: 'x' } },
      },
    },
    {
      name: 'an upper-case token header',
      extra: { trustedProxies: ['10.0.0.1'] },
      extAuthz: { style: 'envoy', tokenHeader: 'X-Token' },
    },
  ])('refuses $name', ({ extra, extAuthz, message }) => {
    const result = gatewayConfigSchema.safeParse({ ...base, ...extra, extAuthz });
    expect(result.success).toBe(false);
    if (message !== undefined) expect(JSON.stringify(result.error?.issues)).toMatch(message);
  });
});

import { describe, expect, it } from 'vitest';
import { gatewayConfigSchema, type GatewayConfigInput } from './schema.js';

const upstreams = { app: { targets: ['http://127.0.0.1:7001'] } };
const route = { id: 'r', match: { pathPrefix: '/api' }, upstream: 'app', auth: 'none' as const };
const auth = { issuer: 'http://127.0.0.1:4000', clientId: 'gw', clientSecret: 's' };

function problems(input: unknown): string[] {
  const result = gatewayConfigSchema.safeParse(input);
  return result.success
    ? []
    : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('gateway configuration: deny by default, refused at load', () => {
  it('accepts a minimal valid configuration and fills the defaults', () => {
    const config = gatewayConfigSchema.parse({ upstreams, routes: [route] } satisfies GatewayConfigInput);
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 8080, http2: true });
    expect(config.routes[0]?.maxBodyBytes).toBe(1_048_576);
    expect(config.rateLimit.onStoreFailure).toBe('local');
  });

  it('takes TLS for the listener and the admin listener, with the secure defaults', () => {
    const tls = { certFile: 'pki/gateway.pem', keyFile: 'pki/gateway-key.pem' };
    const config = gatewayConfigSchema.parse({
      upstreams,
      routes: [route],
      listen: { tls },
      admin: { listen: { tls: { ...tls, caFile: 'pki/ca.pem', clientAuth: 'require' } } },
    } satisfies GatewayConfigInput);
    expect(config.listen.tls).toEqual({ ...tls, clientAuth: 'none', minVersion: 'TLSv1.2' });
    expect(config.admin.listen.tls?.clientAuth).toBe('require');
  });

  it.each([
    ['a route without auth', { upstreams, routes: [{ ...route, auth: undefined }] }, 'routes.0.auth'],
    ['an unknown auth mode', { upstreams, routes: [{ ...route, auth: 'basic' }] }, 'routes.0.auth'],
    [
      'an authenticated route without audience',
      { upstreams, auth, routes: [{ ...route, auth: 'jwt' }] },
      'routes.0.audience',
    ],
    [
      'an authenticated route without the auth section',
      { upstreams, routes: [{ ...route, auth: 'jwt', audience: 'https://a' }] },
      'routes.0.auth',
    ],
    ['no routes', { upstreams, routes: [] }, 'routes'],
    ['an unknown upstream', { upstreams, routes: [{ ...route, upstream: 'nope' }] }, 'routes.0.upstream'],
    ['duplicate route ids', { upstreams, routes: [route, route] }, 'routes.1.id'],
    [
      'an unknown fallback upstream',
      { upstreams, routes: [{ ...route, fallbackUpstream: 'nope' }] },
      'routes.0.fallbackUpstream',
    ],
    [
      'a fallback upstream that is the upstream',
      { upstreams, routes: [{ ...route, fallbackUpstream: 'app' }] },
      'routes.0.fallbackUpstream',
    ],
    [
      'both pathPrefix and path',
      { upstreams, routes: [{ ...route, match: { pathPrefix: '/a', path: '/b' } }] },
      'routes.0.match',
    ],
    [
      'a path with dot-segments',
      { upstreams, routes: [{ ...route, match: { pathPrefix: '/a/../b' } }] },
      'routes.0.match.pathPrefix',
    ],
    [
      'a path with a trailing slash',
      { upstreams, routes: [{ ...route, match: { pathPrefix: '/a/' } }] },
      'routes.0.match.pathPrefix',
    ],
    [
      'a stripPrefix that is not a prefix',
      { upstreams, routes: [{ ...route, stripPrefix: '/other' }] },
      'routes.0.stripPrefix',
    ],
    ['an unknown key', { upstreams, routes: [{ ...route, authz: 'none' }] }, 'routes.0'],
    [
      'a non-http upstream',
      { upstreams: { app: { targets: ['ftp://x'] } }, routes: [route] },
      'upstreams.app.targets.0',
    ],
    ['a route id that is not a label', { upstreams, routes: [{ ...route, id: 'Bad Id' }] }, 'routes.0.id'],
    [
      'TLS 1.1 on the listener',
      { upstreams, routes: [route], listen: { tls: { certFile: 'c', keyFile: 'k', minVersion: 'TLSv1.1' } } },
      'listen.tls.minVersion',
    ],
    [
      'required admin client certificates without a CA',
      {
        upstreams,
        routes: [route],
        admin: { listen: { tls: { certFile: 'c', keyFile: 'k', clientAuth: 'require' } } },
      },
      'admin.listen.tls.caFile',
    ],
    [
      'a client certificate header without trusted proxies (anyone could write one)',
      { upstreams, routes: [route], clientCertificateHeader: 'Client-Cert' },
      'clientCertificateHeader',
    ],
    [
      'a client certificate header that is not a header name',
      { upstreams, routes: [route], trustedProxies: ['10.0.0.0/8'], clientCertificateHeader: 'client cert' },
      'clientCertificateHeader',
    ],
  ])('refuses %s', (_name, input, path) => {
    const found = problems(input);
    expect(
      found.some((problem) => problem.startsWith(path)),
      found.join('\n'),
    ).toBe(true);
  });
});

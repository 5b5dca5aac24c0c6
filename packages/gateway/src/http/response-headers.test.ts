import { describe, expect, it } from 'vitest';
import { buildClientResponseHeaders, type ResponsePolicy } from './response-headers.js';

const policy: ResponsePolicy = {
  removeHeaders: new Set(['x-internal-node', 'x-envoy-upstream-service-time']),
  hsts: 'max-age=31536000; includeSubDomains',
  authenticated: false,
};

/** Maps `http://accounts.internal:8080/v1/…` to `/accounts/…`; anything else pointing inside is dropped. */
function rewriteLocation(location: string): string | undefined {
  if (location.startsWith('/v1/')) return `/accounts/${location.slice(4)}`;
  if (location.startsWith('http://accounts.internal:8080/v1/')) return `/accounts/${location.slice(33)}`;
  if (location.includes('.internal')) return undefined;
  return location;
}

/** A dictionary as the list undici's answer becomes (lower-case names, one entry per line). */
function toList(upstream: Record<string, string | string[] | undefined>): string[] {
  const list: string[] = [];
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined) continue;
    for (const line of Array.isArray(value) ? value : [value]) list.push(name.toLowerCase(), line);
  }
  return list;
}

/** The list `writeHead` gets, read back as a dictionary (a repeated field as an array). */
function toDictionary(list: readonly string[]): Record<string, string | string[]> {
  expect(list.length % 2).toBe(0);
  const headers = Object.create(null) as Record<string, string | string[]>;
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i] as string;
    expect(name).toBe(name.toLowerCase());
    const previous = headers[name];
    const value = list[i + 1] as string;
    headers[name] =
      previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  return headers;
}

const own = { requestId: 'req-1', extra: undefined };

function buildList(
  upstream: Record<string, string | string[] | undefined>,
  overrides: Partial<ResponsePolicy> = {},
  fields: Parameters<typeof buildClientResponseHeaders>[3] = own,
): string[] {
  return buildClientResponseHeaders(toList(upstream), { ...policy, ...overrides }, rewriteLocation, fields);
}

function build(
  upstream: Record<string, string | string[] | undefined>,
  overrides: Partial<ResponsePolicy> = {},
): Record<string, string | string[]> {
  return toDictionary(buildList(upstream, overrides));
}

describe('buildClientResponseHeaders', () => {
  // leak or trick in the upstream response → names the client must not see
  // prettier-ignore
  const removed: ReadonlyArray<readonly [string, Record<string, string | string[] | undefined>, readonly string[]]> = [
    ['product banners', { server: 'Apache/2.4.1 (Debian)', 'x-powered-by': 'Express' }, ['server', 'x-powered-by']],
    ['hop-by-hop headers', { connection: 'keep-alive', 'keep-alive': 'timeout=5', 'transfer-encoding': 'chunked', upgrade: 'h2c', trailer: 'x', te: 'trailers', 'proxy-connection': 'close' }, ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'trailer', 'te', 'proxy-connection']],
    ['proxy authentication', { 'proxy-authenticate': 'Basic', 'proxy-authorization': 'Basic eDp5' }, ['proxy-authenticate', 'proxy-authorization']],
    ['configured internal headers', { 'x-internal-node': 'pod-7.accounts', 'x-envoy-upstream-service-time': '3' }, ['x-internal-node', 'x-envoy-upstream-service-time']],
    ['headers named in Connection', { connection: 'close, X-Debug-Trace', 'x-debug-trace': 'stack…' }, ['x-debug-trace']],
    ['headers named in repeated Connection', { connection: ['x-a', 'X-B'], 'x-a': '1', 'x-b': '2' }, ['x-a', 'x-b']],
    ['mixed-case names', { Server: 'nginx', 'X-Powered-By': 'PHP/5.4', Connection: 'x-c', 'X-C': '1' }, ['server', 'x-powered-by', 'x-c', 'Server', 'X-Powered-By', 'X-C']],
    ['an internal Location', { location: 'http://billing.internal/v2/x' }, ['location']],
    ['an internal Content-Location', { 'content-location': 'http://billing.internal/v2/x' }, ['content-location']],
    ['internal Locations, repeated', { location: ['http://a.internal/', 'http://b.internal/'] }, ['location']],
  ];

  it.each(removed)('removes %s', (_, upstream, names) => {
    const headers = build(upstream);
    for (const name of names) expect(headers).not.toHaveProperty(name);
  });

  it('keeps end-to-end headers and adds the security headers', () => {
    const headers = build({
      'content-type': 'application/json',
      'content-length': '2',
      'set-cookie': ['a=1', 'b=2'],
      etag: '"v1"',
      'x-absent': undefined,
    });
    expect({ ...headers }).toEqual({
      'content-type': 'application/json',
      'content-length': '2',
      'set-cookie': ['a=1', 'b=2'],
      etag: '"v1"',
      'x-request-id': 'req-1',
      'x-content-type-options': 'nosniff',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
    });
  });

  it('keeps Content-Length even when named in Connection', () => {
    expect(build({ connection: 'content-length', 'content-length': '7' })['content-length']).toBe('7');
  });

  type Case = [
    string,
    Record<string, string | string[] | undefined>,
    Partial<ResponsePolicy>,
    string,
    string | string[] | undefined,
  ];
  // prettier-ignore
  it.each<Case>([
    [
      'replaces the upstream nosniff setting',
      { 'x-content-type-options': 'sniff-away' },
      {},
      'x-content-type-options',
      'nosniff',
    ],
    [
      'replaces the upstream HSTS',
      { 'strict-transport-security': 'max-age=0' },
      {},
      'strict-transport-security',
      'max-age=31536000; includeSubDomains',
    ],
    [
      'passes the upstream HSTS through when none is configured',
      { 'strict-transport-security': 'max-age=60' },
      { hsts: undefined },
      'strict-transport-security',
      'max-age=60',
    ],
    ['adds no HSTS when none is configured', {}, { hsts: undefined }, 'strict-transport-security', undefined],
    [
      'forces no-store on authenticated responses',
      { 'cache-control': 'public, max-age=3600' },
      { authenticated: true },
      'cache-control',
      'no-store',
    ],
    ['adds no-store on authenticated responses', {}, { authenticated: true }, 'cache-control', 'no-store'],
    [
      'leaves caching of public responses to the upstream',
      { 'cache-control': 'public, max-age=60' },
      {},
      'cache-control',
      'public, max-age=60',
    ],
    [
      'rewrites Location',
      { location: 'http://accounts.internal:8080/v1/42' },
      {},
      'location',
      '/accounts/42',
    ],
    ['rewrites a relative Location', { location: '/v1/42' }, {}, 'location', '/accounts/42'],
    ['rewrites Content-Location', { 'content-location': '/v1/42' }, {}, 'content-location', '/accounts/42'],
    [
      'keeps an external Location',
      { location: 'https://example.org/' },
      {},
      'location',
      'https://example.org/',
    ],
    [
      'rewrites repeated Locations, dropping internal ones',
      { location: ['/v1/1', 'http://x.internal/'] },
      {},
      'location',
      '/accounts/1',
    ],
    [
      'rewrites repeated Locations',
      { location: ['/v1/1', '/v1/2'] },
      {},
      'location',
      ['/accounts/1', '/accounts/2'],
    ],
  ])('%s', (_, upstream, overrides, name, expected) => {
    expect(build(upstream, overrides)[name]).toEqual(expected);
  });

  it('treats prototype names as plain headers', () => {
    const list = buildClientResponseHeaders(
      ['__proto__', 'x', 'constructor', 'y'],
      policy,
      rewriteLocation,
      own,
    );
    expect(list.slice(0, 4)).toEqual(['__proto__', 'x', 'constructor', 'y']);
  });

  it('keeps repeated fields as separate lines, in the order received', () => {
    const list = buildClientResponseHeaders(
      ['set-cookie', 'a=1', 'content-type', 'text/plain', 'set-cookie', 'b=2'],
      policy,
      rewriteLocation,
      own,
    );
    expect(list.slice(0, 6)).toEqual([
      'set-cookie',
      'a=1',
      'content-type',
      'text/plain',
      'set-cookie',
      'b=2',
    ]);
  });

  it("replaces the upstream's X-Request-Id with the gateway's", () => {
    expect(build({ 'x-request-id': 'upstream-7' })['x-request-id']).toBe('req-1');
  });

  it("adds the gateway's other fields unless the upstream sent them", () => {
    const extra = { ratelimit: 'limit=10, remaining=9, reset=1', 'ratelimit-policy': '10;w=1' };
    const headers = toDictionary(
      buildList({ 'ratelimit-policy': 'upstream' }, {}, { requestId: 'req-1', extra }),
    );
    expect([headers.ratelimit, headers['ratelimit-policy']]).toEqual([extra.ratelimit, 'upstream']);
  });
});

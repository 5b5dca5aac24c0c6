import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.js';
import { startGateway, type StartedGateway } from '../support/start-gateway.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/openapi/', import.meta.url));

let upstream: RecordingUpstream;
let gw: StartedGateway;

beforeAll(async () => {
  upstream = await startRecordingUpstream();
  gw = await startGateway(
    {
      upstreams: { app: { targets: [upstream.url] } },
      routes: [
        {
          id: 'demo',
          match: { pathPrefix: '/api' },
          upstream: 'app',
          auth: 'none',
          openapi: 'demo-api.yaml',
          contentTypes: ['application/json', 'application/merge-patch+json'],
          maxBodyBytes: 2048,
          deny: { query: ['<script'], headers: { 'user-agent': ['^sqlmap'] } },
        },
        {
          id: 'limited',
          match: { pathPrefix: '/limited' },
          upstream: 'app',
          auth: 'none',
          rateLimits: [{ id: 'per-ip', limit: 3, windowSec: 60, key: ['ip'] }],
        },
      ],
    },
    { baseDir: FIXTURES },
  );
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

async function call(
  method: string,
  path: string,
  init: { body?: string; headers?: Record<string, string> } = {},
) {
  const before = upstream.requests.length;
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers:
      init.body === undefined
        ? (init.headers ?? {})
        : { 'content-type': 'application/json', ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  const text = await res.text();
  return { res, text, proxied: upstream.requests.length - before };
}

describe('only declared operations with valid input pass (OpenAPI positive model)', () => {
  it.each([
    ['GET', '/api/accounts', undefined, 200],
    ['GET', '/api/accounts?limit=10&cursor=abc', undefined, 200],
    ['GET', '/api/accounts/acc_123', undefined, 200],
    ['POST', '/api/accounts', '{"nickname":"savings"}', 200],
    ['PATCH', '/api/accounts/acc_123', '{"nickname":"renamed"}', 200],
  ])('%s %s passes', async (method, path, body, status) => {
    const { res, proxied } = await call(method, path, body === undefined ? {} : { body });
    expect(res.status).toBe(status);
    expect(proxied).toBe(1);
  });

  it.each([
    ['GET', '/api/undeclared', undefined, 404, 'ERR_GATEWAY_ROUTE_NOT_FOUND'],
    // Undeclared method on a declared path: 404 like any undeclared operation (no Allow leak).
    ['DELETE', '/api/accounts/acc_123', undefined, 404, 'ERR_GATEWAY_ROUTE_NOT_FOUND'],
    ['GET', '/api/accounts/not-an-id', undefined, 400, 'ERR_GATEWAY_VALIDATION_FAILED'],
    ['GET', '/api/accounts?limit=1000', undefined, 400, 'ERR_GATEWAY_VALIDATION_FAILED'],
    ['GET', '/api/accounts?limit=abc', undefined, 400, 'ERR_GATEWAY_VALIDATION_FAILED'],
    ['POST', '/api/accounts', '{}', 400, 'ERR_GATEWAY_VALIDATION_FAILED'],
    ['POST', '/api/accounts', '{"nickname":"x","owner":"mallory"}', 400, 'ERR_GATEWAY_VALIDATION_FAILED'],
    ['PATCH', '/api/accounts/acc_1', '{"balance":1000000}', 400, 'ERR_GATEWAY_VALIDATION_FAILED'],
    ['PATCH', '/api/accounts/acc_1', '{"nickname":"x","id":"acc_2"}', 400, 'ERR_GATEWAY_VALIDATION_FAILED'],
    ['POST', '/api/accounts', '{"nickname":', 400, 'ERR_GATEWAY_VALIDATION_FAILED'],
    ['POST', '/api/accounts', undefined, 400, 'ERR_GATEWAY_VALIDATION_FAILED'],
  ])('%s %s %s → %i %s, never proxied', async (method, path, body, status, code) => {
    const { res, text, proxied } = await call(method, path, body === undefined ? {} : { body });
    expect(res.status).toBe(status);
    expect(JSON.parse(text)).toMatchObject({ code });
    expect(proxied).toBe(0);
    if (body !== undefined) expect(text).not.toContain('mallory');
  });
});

describe('content rules', () => {
  it.each([
    [
      'wrong media type',
      'POST',
      '/api/accounts',
      'nickname=x',
      { 'content-type': 'application/x-www-form-urlencoded' },
      415,
    ],
    [
      'body over the route limit',
      'POST',
      '/api/accounts',
      JSON.stringify({ nickname: 'x'.repeat(4000) }),
      {},
      413,
    ],
    ['deny rule on the query', 'GET', '/api/accounts?cursor=%3Cscript%3E', undefined, {}, 403],
    ['deny rule on a header', 'GET', '/api/accounts', undefined, { 'user-agent': 'sqlmap/1.7' }, 403],
    ['JSON nested too deep', 'POST', '/api/accounts', `${'['.repeat(100)}${']'.repeat(100)}`, {}, 400],
  ])('%s → %i', async (_name, method, path, body, headers, status) => {
    const before = upstream.requests.length;
    const res = await fetch(`${gw.url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body }),
    });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    await res.arrayBuffer();
    expect(upstream.requests.length).toBe(before);
  });
});

describe('rate limits', () => {
  it('answers 429 with Retry-After and RateLimit headers once the quota is spent', async () => {
    const statuses: number[] = [];
    const remaining: (string | null)[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 5; i++) {
      last = await fetch(`${gw.url}/limited/x`);
      statuses.push(last.status);
      remaining.push(last.headers.get('ratelimit'));
      await last.arrayBuffer();
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    // The proxied answers carry the quota too, not only the refusals.
    expect(remaining.slice(0, 3)).toEqual([
      expect.stringMatching(/"per-ip";r=2;t=/),
      expect.stringMatching(/"per-ip";r=1;t=/),
      expect.stringMatching(/"per-ip";r=0;t=/),
    ]);
    expect(Number(last?.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(last?.headers.get('ratelimit-policy')).toMatch(/"per-ip";q=3;w=60/);
    expect(last?.headers.get('ratelimit')).toMatch(/"per-ip";r=0;t=\d+/);
    const metrics = gw.gateway.metrics.render();
    expect(metrics).toMatch(/gatehouse_rate_limited_total\{route="limited"\} 2/);
  });
});

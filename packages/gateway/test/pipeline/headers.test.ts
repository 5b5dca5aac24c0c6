import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRaw } from '../support/raw-http.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.js';
import { startGateway, type StartedGateway } from '../support/start-gateway.js';

let upstream: RecordingUpstream;
let direct: StartedGateway;
let behindProxy: StartedGateway;

const routes = [
  { id: 'plain', match: { pathPrefix: '/plain' }, upstream: 'app', auth: 'none' as const },
  {
    id: 'cookies',
    match: { pathPrefix: '/cookies' },
    upstream: 'app',
    auth: 'none' as const,
    allowCookies: true,
  },
];

beforeAll(async () => {
  upstream = await startRecordingUpstream();
  direct = await startGateway({ upstreams: { app: { targets: [upstream.url] } }, routes });
  behindProxy = await startGateway({
    trustedProxies: ['127.0.0.1'],
    upstreams: { app: { targets: [upstream.url] } },
    routes,
  });
});

afterAll(async () => {
  await direct.close();
  await behindProxy.close();
  await upstream.close();
});

async function forwarded(gw: StartedGateway, path: string, headers: Record<string, string>) {
  const before = upstream.requests.length;
  // Raw bytes: fetch refuses some of these headers (Connection, TE) on its own.
  const lines = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  const res = await sendRaw(gw.port, `GET ${path} HTTP/1.1\r\nHost: gw.test\r\n${lines}\r\n`, {
    keepOpenMs: 300,
  });
  expect(res.status).toBe(200);
  const seen = upstream.requests.slice(before);
  expect(seen).toHaveLength(1);
  return seen[0]!.headers;
}

describe('request headers from an untrusted peer', () => {
  it('drops identity, forwarding and hop-by-hop headers the client sent, and sets its own', async () => {
    const headers = await forwarded(direct, '/plain', {
      'x-gatehouse-sub': 'admin',
      'x-gatehouse-client-id': 'root',
      'x-forwarded-for': '10.9.9.9',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'https',
      forwarded: 'for=10.9.9.9',
      'x-real-ip': '10.9.9.9',
      'x-request-id': 'attacker-chosen',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      authorization: 'Bearer leaked-to-upstream',
      cookie: 'session=browser-cookie',
      dpop: 'proof',
      'proxy-authorization': 'Basic eDp5',
      te: 'trailers',
      connection: 'x-custom-hop',
      'x-custom-hop': 'should-go',
      'x-normal': 'kept',
    });
    for (const name of [
      'x-gatehouse-sub',
      'x-gatehouse-client-id',
      'x-real-ip',
      'authorization',
      'cookie',
      'dpop',
      'proxy-authorization',
      'te',
      'x-custom-hop',
    ])
      expect(headers[name], name).toBeUndefined();
    expect(headers['x-normal']).toBe('kept');
    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-forwarded-host']).toBe('gw.test');
    expect(headers['forwarded']).toMatch(/^for=127\.0\.0\.1;/);
    expect(headers['x-request-id']).not.toBe('attacker-chosen');
    expect(headers['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);
    expect(headers['traceparent']).not.toContain('0af7651916cd43dd8448eb211c80319c');
  });

  it('forwards cookies only where the route allows it', async () => {
    expect((await forwarded(direct, '/cookies', { cookie: 'a=1' }))['cookie']).toBe('a=1');
    expect((await forwarded(direct, '/plain', { cookie: 'a=1' }))['cookie']).toBeUndefined();
  });

  it('keys the access log on the socket address, not a spoofed X-Forwarded-For', async () => {
    await fetch(`${direct.url}/plain`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    await new Promise((resolve) => setImmediate(resolve));
    const line = direct.logs.filter((entry) => entry['log'] === 'access').at(-1);
    expect(line?.['clientIp']).toBe('127.0.0.1');
  });
});

describe('request headers from a trusted proxy', () => {
  it('takes the client from X-Forwarded-For (rightmost untrusted) and appends its hop', async () => {
    const headers = await forwarded(behindProxy, '/plain', {
      'x-forwarded-for': '198.51.100.1, 203.0.113.7',
      'x-request-id': 'edge-id-123',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    });
    expect(headers['x-forwarded-for']).toBe('198.51.100.1, 203.0.113.7, 127.0.0.1');
    expect(headers['x-request-id']).toBe('edge-id-123');
    expect(headers['traceparent']).toContain('0af7651916cd43dd8448eb211c80319c');
    await new Promise((resolve) => setImmediate(resolve));
    const line = behindProxy.logs.filter((entry) => entry['log'] === 'access').at(-1);
    expect(line?.['clientIp']).toBe('203.0.113.7');
  });
});

describe('raw requests', () => {
  it('merges duplicate headers the way the upstream would not be confused by', async () => {
    const before = upstream.requests.length;
    const result = await sendRaw(
      direct.port,
      'GET /plain HTTP/1.1\r\nHost: x\r\nX-Gatehouse-Sub: a\r\nx-gatehouse-sub: b\r\nConnection: close\r\n\r\n',
      { keepOpenMs: 300 },
    );
    expect(result.status).toBe(200);
    const seen = upstream.requests.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.rawHeaders.map((h) => h.toLowerCase())).not.toContain('x-gatehouse-sub');
  });
});

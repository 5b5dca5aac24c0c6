import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRaw } from '../support/raw-http.js';
import { startGateway, type StartedGateway } from '../support/start-gateway.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.js';

const LARGE_BODY_BYTES = 8 * 1024 * 1024;

let upstream: RecordingUpstream;
let gw: StartedGateway;

beforeAll(async () => {
  upstream = await startRecordingUpstream({
    handler(req, res, body) {
      const url = req.url ?? '';
      if (url.startsWith('/internal/redirect')) {
        res.writeHead(302, { location: `${upstreamUrl()}/internal/accounts/7`, server: 'secret-server/1.2' });
        res.end();
        return;
      }
      if (url.startsWith('/internal/relative')) {
        res.writeHead(201, { location: '/internal/accounts/8' });
        res.end();
        return;
      }
      if (url.startsWith('/internal/accounts/large')) {
        // Larger than every socket buffer on the way: the relay must wait for the client to drain.
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(Buffer.alloc(LARGE_BODY_BYTES, 'x'));
        return;
      }
      if (url.startsWith('/internal/crash')) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('Error: boom\n    at secretFunction (/srv/app/internal.js:42:7)');
        return;
      }
      const answer = JSON.stringify({ method: req.method, url, body: body.toString('utf8') });
      res.writeHead(200, {
        'content-type': 'application/json',
        server: 'express',
        'x-powered-by': 'Express',
        'x-internal-node': 'node-17',
        'x-kept': 'yes',
        connection: 'x-kept-hop',
        'x-kept-hop': 'hop',
      });
      res.end(answer);
    },
  });
  gw = await startGateway({
    responses: { removeHeaders: ['x-internal-node'] },
    upstreams: { app: { targets: [upstream.url] } },
    routes: [
      {
        id: 'status',
        match: { path: '/public/status', methods: ['GET'] },
        upstream: 'app',
        auth: 'none',
        addPrefix: '/internal',
      },
      {
        id: 'accounts',
        match: { pathPrefix: '/api/accounts' },
        upstream: 'app',
        auth: 'none',
        stripPrefix: '/api',
        addPrefix: '/internal',
        methods: ['GET', 'POST', 'HEAD'],
      },
      {
        id: 'item',
        match: { path: '/api/items/{id}', methods: ['GET'] },
        upstream: 'app',
        auth: 'none',
        stripPrefix: '/api',
        addPrefix: '/internal',
      },
      {
        id: 'redirect',
        match: { pathPrefix: '/api/redirect' },
        upstream: 'app',
        auth: 'none',
        stripPrefix: '/api',
        addPrefix: '/internal',
      },
      {
        id: 'relative',
        match: { pathPrefix: '/api/relative' },
        upstream: 'app',
        auth: 'none',
        stripPrefix: '/api',
        addPrefix: '/internal',
      },
      {
        id: 'crash',
        match: { pathPrefix: '/api/crash' },
        upstream: 'app',
        auth: 'none',
        stripPrefix: '/api',
        addPrefix: '/internal',
      },
      {
        id: 'vhost',
        match: { host: 'admin.example', pathPrefix: '/' },
        upstream: 'app',
        auth: 'none',
        addPrefix: '/vhost',
      },
    ],
  });
});

function upstreamUrl(): string {
  return upstream.url;
}

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

describe('routing and rewriting', () => {
  it.each([
    ['GET', '/public/status', 200, '/internal/public/status'],
    ['GET', '/api/accounts', 200, '/internal/accounts'],
    ['GET', '/api/accounts/42?expand=owner&x=1', 200, '/internal/accounts/42?expand=owner&x=1'],
    ['GET', '/api/items/9', 200, '/internal/items/9'],
    ['GET', '/api//accounts///42', 200, '/internal/accounts/42'],
    ['GET', '/api/accounts/%7Euser', 200, '/internal/accounts/~user'],
  ])('%s %s → %i, upstream sees %s', async (method, path, status, seen) => {
    const before = upstream.requests.length;
    const res = await fetch(`${gw.url}${path}`, { method });
    expect(res.status).toBe(status);
    await res.arrayBuffer();
    expect(upstream.requests.slice(before).map((r) => r.url)).toEqual([seen]);
  });

  it.each([
    ['GET', '/api/accountsX', 404],
    ['GET', '/nothing', 404],
    ['GET', '/api/items', 404],
    ['GET', '/api/items/1/2', 404],
    ['DELETE', '/api/accounts/1', 405],
    ['POST', '/public/status', 405],
  ])('%s %s → %i problem, upstream untouched', async (method, path, status) => {
    const before = upstream.requests.length;
    const res = await fetch(`${gw.url}${path}`, { method });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const problem = (await res.json()) as { status: number; code: string };
    expect(problem.status).toBe(status);
    if (status === 405) expect(res.headers.get('allow')).toMatch(/GET/);
    expect(upstream.requests.length).toBe(before);
  });

  it('matches on the Host header', async () => {
    const before = upstream.requests.length;
    const res = await sendRaw(gw.port, 'GET /x HTTP/1.1\r\nHost: admin.example\r\n\r\n', { keepOpenMs: 300 });
    expect(res.status).toBe(200);
    expect(upstream.requests.slice(before).map((r) => r.url)).toEqual(['/vhost/x']);
  });

  it('forwards a POST body unchanged', async () => {
    const res = await fetch(`${gw.url}/api/accounts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ nickname: 'savings' }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { body: string }).body).toBe('{"nickname":"savings"}');
  });

  it('relays a body larger than the socket buffers whole, to a client that reads it slowly', async () => {
    const res = await fetch(`${gw.url}/api/accounts/large`);
    expect(res.status).toBe(200);
    const reader = res.body?.getReader();
    let received = 0;
    for (;;) {
      const chunk = await reader?.read();
      if (chunk === undefined || chunk.done) break;
      received += chunk.value.length;
      // A slow reader: the gateway's writes fill up and it has to wait for 'drain'.
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(received).toBe(LARGE_BODY_BYTES);
  });

  it('answers HEAD without a body', async () => {
    const res = await fetch(`${gw.url}/api/accounts`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });
});

describe('responses: no internal detail reaches the client', () => {
  it('removes Server, X-Powered-By, configured and Connection-named headers; adds security headers', async () => {
    const res = await fetch(`${gw.url}/api/accounts`);
    expect(res.headers.get('server')).toBeNull();
    expect(res.headers.get('x-powered-by')).toBeNull();
    expect(res.headers.get('x-internal-node')).toBeNull();
    expect(res.headers.get('x-kept-hop')).toBeNull();
    expect(res.headers.get('x-kept')).toBe('yes');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('strict-transport-security')).toMatch(/^max-age=/);
    expect(res.headers.get('x-request-id')).toMatch(/\S/);
  });

  it('rewrites an absolute Location pointing at the upstream to the public path', async () => {
    const res = await fetch(`${gw.url}/api/redirect`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const location = res.headers.get('location') ?? '';
    expect(location).not.toContain(upstream.url);
    expect(location).not.toContain('/internal');
    expect(res.headers.get('server')).toBeNull();
  });

  it('rewrites a relative Location under the internal prefix', async () => {
    const res = await fetch(`${gw.url}/api/relative`, { method: 'GET', redirect: 'manual' });
    expect(res.status).toBe(201);
    expect(res.headers.get('location') ?? '').not.toContain('/internal');
  });

  it('replaces an upstream 5xx body with a generic problem (no stack trace)', async () => {
    const res = await fetch(`${gw.url}/api/crash`);
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const text = await res.text();
    expect(text).not.toContain('secretFunction');
    expect(text).not.toContain('/srv/app');
    expect(JSON.parse(text)).toMatchObject({ status: 500, code: 'ERR_GATEWAY_UPSTREAM_ERROR' });
  });

  it('writes one access-log line per request with route, status and durations, never the query', async () => {
    await fetch(`${gw.url}/api/accounts/5?access_token=leaky`);
    await new Promise((resolve) => setImmediate(resolve));
    const line = gw.logs.filter((entry) => entry['log'] === 'access').at(-1);
    expect(line).toMatchObject({
      route: 'accounts',
      status: 200,
      method: 'GET',
      path: '/api/accounts/5',
      clientIp: '127.0.0.1',
    });
    expect(typeof line?.['durationMs']).toBe('number');
    expect(JSON.stringify(gw.logs)).not.toContain('leaky');
  });
});

describe('unreachable upstream', () => {
  it('answers 502 with a generic problem when no target accepts connections', async () => {
    const dead = await startRecordingUpstream();
    const deadUrl = dead.url;
    await dead.close();
    const other = await startGateway({
      upstreams: { dead: { targets: [deadUrl], retries: 0 } },
      routes: [{ id: 'dead', match: { pathPrefix: '/' }, upstream: 'dead', auth: 'none' }],
    });
    try {
      const res = await fetch(`${other.url}/x`);
      expect([502, 503]).toContain(res.status);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(await res.text()).not.toContain('ECONNREFUSED');
      // A request whose body was read to the end gets its answer too.
      const posted = await fetch(`${other.url}/x`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"a":1}',
      });
      expect([502, 503]).toContain(posted.status);
      expect(posted.headers.get('content-type')).toBe('application/problem+json');
      await posted.arrayBuffer();
    } finally {
      await other.close();
    }
  });
});

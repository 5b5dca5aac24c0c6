import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createUpstream } from '../../src/upstream/create-upstream.js';
import type { Upstream, UpstreamRequest } from '../../src/upstream/upstream.js';
import { named, startHttpServer, upstreamOptions, type TestServer } from './servers.js';

const GET: UpstreamRequest = {
  method: 'GET',
  path: '/items?page=2',
  headers: {},
  body: null,
  idempotent: true,
};

describe('upstream round robin', () => {
  const servers: TestServer[] = [];
  let upstream: Upstream | undefined;

  afterEach(async () => {
    await upstream?.close();
    upstream = undefined;
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  async function start(count: number): Promise<TestServer[]> {
    for (let index = 0; index < count; index += 1) servers.push(await startHttpServer(named(`s${index}`)));
    return servers;
  }

  it('spreads requests over the targets in turn', async () => {
    const [a, b, c] = await start(3);
    upstream = createUpstream(upstreamOptions([a!.url, b!.url, c!.url]));
    const seen: string[] = [];
    const targets: string[] = [];
    for (let index = 0; index < 6; index += 1) {
      const response = await upstream.request(GET);
      expect(response.statusCode).toBe(200);
      expect(response.upstreamMs).toBeGreaterThanOrEqual(0);
      seen.push(await text(response.body));
      targets.push(response.target);
    }
    expect(seen).toEqual(['s0', 's1', 's2', 's0', 's1', 's2']);
    expect(targets.slice(0, 3)).toEqual([a!.url, b!.url, c!.url]);
    expect(a!.received).toEqual(['GET /items?page=2', 'GET /items?page=2']);
  });

  it('prepends a target base path and forwards method, headers and body', async () => {
    const server = await startHttpServer((req, res) => {
      void text(req).then((body) => {
        res.setHeader('x-echo', `${String(req.headers['x-test'] ?? '')}|${body}`);
        res.end();
      });
    });
    servers.push(server);
    upstream = createUpstream(upstreamOptions([`${server.url}/svc/`]));
    const response = await upstream.request({
      method: 'PUT',
      path: '/a/b?x=1',
      headers: { 'x-test': 'yes', 'content-type': 'text/plain' },
      body: Buffer.from('payload'),
      idempotent: true,
    });
    await text(response.body);
    expect(response.target).toBe(`${server.url}/svc`);
    expect(response.headers['x-echo']).toBe('yes|payload');
    expect(server.received).toEqual(['PUT /svc/a/b?x=1']);

    const streamed = await upstream.request({
      method: 'POST',
      path: '/s',
      headers: {},
      body: Readable.from([Buffer.from('chunk1'), Buffer.from('chunk2')]),
      idempotent: false,
    });
    await text(streamed.body);
    expect(streamed.headers['x-echo']).toBe('|chunk1chunk2');
  });

  it('reports targets with their in-flight count until the body is consumed', async () => {
    const [a] = await start(1);
    upstream = createUpstream(upstreamOptions([a!.url]));
    expect(upstream.id).toBe('test');
    expect(upstream.health()).toEqual([{ target: a!.url, healthy: true, circuit: 'closed', inFlight: 0 }]);
    const response = await upstream.request(GET);
    expect(upstream.health()[0]?.inFlight).toBe(1);
    await text(response.body);
    await vi.waitFor(() => {
      expect(upstream?.health()[0]?.inFlight).toBe(0);
    });
  });

  it('caps connections per target with maxConnections', async () => {
    let open = 0;
    let peak = 0;
    const server = await startHttpServer((_req, res) => {
      open += 1;
      peak = Math.max(peak, open);
      setImmediate(() => {
        open -= 1;
        res.end('ok');
      });
    });
    servers.push(server);
    upstream = createUpstream(upstreamOptions([server.url], { maxConnections: 1 }));
    const responses = await Promise.all(
      Array.from({ length: 5 }, async () => text((await upstream!.request(GET)).body)),
    );
    expect(responses).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(peak).toBe(1);
  });

  it('refuses requests once closed', async () => {
    const [a] = await start(1);
    upstream = createUpstream(upstreamOptions([a!.url]));
    const closing = upstream.close();
    expect(upstream.close()).toBe(closing);
    await closing;
    await expect(upstream.request(GET)).rejects.toMatchObject({ code: 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE' });
  });

  it('refuses a request undici will not send without blaming the upstream', async () => {
    const [a] = await start(1);
    upstream = createUpstream(
      upstreamOptions([a!.url], {
        circuitBreaker: { failureThreshold: 1, openMs: 1_000, halfOpenProbes: 1 },
      }),
    );
    await expect(upstream.request({ ...GET, headers: { 'x-bad': 'a\r\nb' } })).rejects.toMatchObject({
      code: 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE',
      detail: 'upstream test: request refused locally',
    });
    expect(a!.received).toEqual([]);
    expect(upstream.health()[0]?.circuit).toBe('closed');
  });

  it('turns a client abort into an upstream-unavailable error that does not count against the circuit', async () => {
    const server = await startHttpServer(() => undefined);
    servers.push(server);
    upstream = createUpstream(
      upstreamOptions([server.url], {
        circuitBreaker: { failureThreshold: 1, openMs: 1_000, halfOpenProbes: 1 },
      }),
    );
    const controller = new AbortController();
    const pending = upstream.request({ ...GET, signal: controller.signal });
    await vi.waitFor(() => {
      expect(server.received).toHaveLength(1);
    });
    controller.abort();
    await expect(pending).rejects.toMatchObject({
      code: 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE',
      detail: 'upstream test: request aborted',
    });
    expect(upstream.health()[0]?.circuit).toBe('closed');
  });
});

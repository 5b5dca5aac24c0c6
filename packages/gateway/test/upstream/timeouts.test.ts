import { once } from 'node:events';
import { text } from 'node:stream/consumers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createUpstream } from '../../src/upstream/create-upstream.js';
import type { Upstream, UpstreamRequest } from '../../src/upstream/upstream.js';
import { startHttpServer, startSilentServer, upstreamOptions, type TestServer } from './servers.js';

const GET: UpstreamRequest = { method: 'GET', path: '/', headers: {}, body: null, idempotent: true };
// Short timeouts keep the suite quick; nothing here asserts how long anything took.
const SHORT = { connectMs: 100, headersMs: 100, bodyMs: 100 };

describe('upstream timeouts', () => {
  const servers: TestServer[] = [];
  let upstream: Upstream | undefined;

  afterEach(async () => {
    await upstream?.close().catch(() => undefined);
    upstream = undefined;
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  it('answers 504 when the response headers do not come in time, without retrying', async () => {
    const server = await startHttpServer(() => undefined);
    servers.push(server);
    upstream = createUpstream(upstreamOptions([server.url], { timeouts: SHORT, retries: 2 }));
    const error = await upstream.request(GET).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'ERR_GATEWAY_UPSTREAM_TIMEOUT', status: 504 });
    expect((error as Error).cause).toMatchObject({ code: 'ERR_UPSTREAM_HEADERS_TIMEOUT' });
    expect(server.received).toEqual(['GET /']);
  });

  it('fails the body stream when the body stalls, and counts it against the circuit', async () => {
    const server = await startHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
    });
    servers.push(server);
    upstream = createUpstream(
      upstreamOptions([server.url], {
        timeouts: SHORT,
        circuitBreaker: { failureThreshold: 1, openMs: 60_000, halfOpenProbes: 1 },
      }),
      { now: () => 0 },
    );
    const response = await upstream.request(GET);
    expect(response.statusCode).toBe(200);
    await expect(text(response.body)).rejects.toMatchObject({ code: 'ERR_UPSTREAM_BODY_TIMEOUT' });
    expect(upstream.health()[0]?.circuit).toBe('open');
  });

  it('answers 504 when the TLS handshake never completes (connect timeout), after retrying', async () => {
    const silent = await startSilentServer();
    servers.push(silent);
    upstream = createUpstream(upstreamOptions([silent.url], { timeouts: SHORT, retries: 1 }));
    const error = await upstream.request(GET).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'ERR_GATEWAY_UPSTREAM_TIMEOUT', status: 504 });
    expect((error as Error).cause).toMatchObject({ code: 'ERR_UPSTREAM_CONNECT_TIMEOUT' });
  });

  it('keeps an unconsumed body error from crashing the process', async () => {
    const server = await startHttpServer((_req, res) => {
      res.writeHead(200);
      res.write('x');
    });
    servers.push(server);
    upstream = createUpstream(upstreamOptions([server.url], { timeouts: SHORT }));
    const response = await upstream.request(GET);
    response.body.resume();
    const [error] = (await once(response.body, 'error')) as [unknown];
    expect(error).toMatchObject({ code: 'ERR_UPSTREAM_BODY_TIMEOUT' });
    await vi.waitFor(() => {
      expect(upstream?.health()[0]?.inFlight).toBe(0);
    });
  });
});

import { text } from 'node:stream/consumers';
import { afterEach, describe, expect, it } from 'vitest';
import { createUpstream } from '../../src/upstream/create-upstream.js';
import type { Upstream, UpstreamRequest } from '../../src/upstream/upstream.js';
import { refusedUrl, startHttpServer, upstreamOptions, type TestServer } from './servers.js';

const GET: UpstreamRequest = { method: 'GET', path: '/', headers: {}, body: null, idempotent: true };
const BREAKER = { failureThreshold: 3, openMs: 30_000, halfOpenProbes: 1 };

describe('upstream circuit breaker', () => {
  const servers: TestServer[] = [];
  let upstream: Upstream | undefined;
  let clock = 0;
  const now = (): number => clock;

  afterEach(async () => {
    await upstream?.close();
    upstream = undefined;
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  async function flaky(): Promise<TestServer & { control: { status: number } }> {
    const control = { status: 500 };
    const server = await startHttpServer((_req, res) => {
      res.statusCode = control.status;
      res.end(String(control.status));
    });
    servers.push(server);
    return { ...server, control };
  }

  async function status(): Promise<number> {
    const response = await upstream!.request(GET);
    await text(response.body);
    return response.statusCode;
  }

  it('opens after consecutive 5xx, fails fast with 503, then closes after a good half-open probe', async () => {
    const server = await flaky();
    clock = 0;
    upstream = createUpstream(upstreamOptions([server.url], { circuitBreaker: BREAKER }), { now });
    // 5xx answers are passed on to the caller and counted.
    expect([await status(), await status(), await status()]).toEqual([500, 500, 500]);
    expect(upstream.health()[0]?.circuit).toBe('open');

    const error = await upstream.request(GET).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'ERR_GATEWAY_CIRCUIT_OPEN', status: 503 });
    expect((error as Error).cause).toMatchObject({ name: 'UpstreamServerError', statusCode: 500 });
    expect(server.received).toHaveLength(3);

    clock += BREAKER.openMs - 1;
    await expect(upstream.request(GET)).rejects.toMatchObject({ code: 'ERR_GATEWAY_CIRCUIT_OPEN' });
    clock += 1;
    expect(upstream.health()[0]?.circuit).toBe('half-open');

    server.control.status = 200;
    // One probe at a time: a second request while the probe is out is refused.
    const probe = upstream.request(GET);
    await expect(upstream.request(GET)).rejects.toMatchObject({ code: 'ERR_GATEWAY_CIRCUIT_OPEN' });
    const answer = await probe;
    await text(answer.body);
    expect(answer.statusCode).toBe(200);
    expect(upstream.health()[0]?.circuit).toBe('closed');
    expect(await status()).toBe(200);
    expect(server.received).toHaveLength(5);
  });

  it('opens again when the half-open probe fails', async () => {
    const server = await flaky();
    clock = 0;
    upstream = createUpstream(upstreamOptions([server.url], { circuitBreaker: BREAKER }), { now });
    for (let index = 0; index < 3; index += 1) await status();
    clock += BREAKER.openMs;
    expect(await status()).toBe(500);
    expect(upstream.health()[0]?.circuit).toBe('open');
    await expect(upstream.request(GET)).rejects.toMatchObject({ code: 'ERR_GATEWAY_CIRCUIT_OPEN' });
  });

  it('counts connection failures and skips a target with an open circuit', async () => {
    const good = await startHttpServer((_req, res) => {
      res.end('good');
    });
    servers.push(good);
    const refused = await refusedUrl();
    clock = 0;
    upstream = createUpstream(
      upstreamOptions([refused, good.url], { circuitBreaker: { ...BREAKER, failureThreshold: 2 } }),
      { now },
    );
    const outcomes: string[] = [];
    for (let index = 0; index < 6; index += 1) {
      try {
        outcomes.push(await text((await upstream.request(GET)).body));
      } catch (error) {
        outcomes.push((error as { code: string }).code);
      }
    }
    expect(outcomes).toEqual([
      'ERR_GATEWAY_UPSTREAM_UNAVAILABLE',
      'good',
      'ERR_GATEWAY_UPSTREAM_UNAVAILABLE',
      'good',
      'good',
      'good',
    ]);
    expect(upstream.health().map((target) => target.circuit)).toEqual(['open', 'closed']);
  });

  it('a success resets the consecutive failure count', async () => {
    const server = await flaky();
    clock = 0;
    upstream = createUpstream(upstreamOptions([server.url], { circuitBreaker: BREAKER }), { now });
    await status();
    await status();
    server.control.status = 404;
    await status();
    server.control.status = 503;
    await status();
    await status();
    expect(upstream.health()[0]?.circuit).toBe('closed');
  });
});

import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterEach, describe, expect, it } from 'vitest';
import { createUpstream } from '../../src/upstream/create-upstream.js';
import type { Upstream, UpstreamRequest } from '../../src/upstream/upstream.js';
import { refusedUrl, startHttpServer, upstreamOptions, type TestServer } from './servers.js';

describe('upstream retries', () => {
  const servers: TestServer[] = [];
  let upstream: Upstream | undefined;

  afterEach(async () => {
    await upstream?.close();
    upstream = undefined;
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  /** A refused target first in rotation, then a working one. */
  async function refusedThenGood(retries: number): Promise<TestServer> {
    const good = await startHttpServer((req, res) => {
      void text(req).then((body) => res.end(`good:${body}`));
    });
    servers.push(good);
    upstream = createUpstream(upstreamOptions([await refusedUrl(), good.url], { retries }));
    return good;
  }

  const request = (overrides: Partial<UpstreamRequest>): UpstreamRequest => ({
    method: 'GET',
    path: '/r',
    headers: {},
    body: null,
    idempotent: true,
    ...overrides,
  });

  it('retries an idempotent request refused by one target on the next target', async () => {
    const good = await refusedThenGood(1);
    const response = await upstream!.request(request({ method: 'PUT', body: Buffer.from('x') }));
    expect(await text(response.body)).toBe('good:x');
    expect(response.target).toBe(good.url);
    expect(good.received).toEqual(['PUT /r']);
  });

  it.each([
    ['a non-idempotent POST', { method: 'POST', idempotent: false }],
    ['a streamed body, even when idempotent', { method: 'PUT', body: Readable.from([Buffer.from('x')]) }],
  ])('never retries %s', async (_name, overrides) => {
    const good = await refusedThenGood(3);
    const error = await upstream!.request(request(overrides)).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE', status: 502 });
    expect((error as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
    expect(good.received).toEqual([]);
  });

  it('does not retry when retries is 0', async () => {
    const good = await refusedThenGood(0);
    await expect(upstream!.request(request({}))).rejects.toMatchObject({
      code: 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE',
    });
    expect(good.received).toEqual([]);
  });

  it('gives up after the configured retries, trying the same target again when it is the only one', async () => {
    upstream = createUpstream(upstreamOptions([await refusedUrl()], { retries: 2 }));
    const error = await upstream.request(request({})).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE' });
    expect((error as { detail: string }).detail).toMatch(
      /^upstream test target http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED$/,
    );
  });

  it('reports the connection failure when the retry finds every circuit open', async () => {
    upstream = createUpstream(
      upstreamOptions([await refusedUrl()], {
        retries: 2,
        circuitBreaker: { failureThreshold: 1, openMs: 60_000, halfOpenProbes: 1 },
      }),
      { now: () => 0 },
    );
    const error = await upstream.request(request({})).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE' });
    expect((error as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
    await expect(upstream.request(request({}))).rejects.toMatchObject({ code: 'ERR_GATEWAY_CIRCUIT_OPEN' });
  });

  it('does not retry once the upstream answered, even with a 5xx', async () => {
    const failing = await startHttpServer((_req, res) => {
      res.statusCode = 503;
      res.end();
    });
    const good = await startHttpServer((_req, res) => res.end());
    servers.push(failing, good);
    upstream = createUpstream(upstreamOptions([failing.url, good.url], { retries: 3 }));
    const response = await upstream.request(request({}));
    await text(response.body);
    expect(response.statusCode).toBe(503);
    expect(good.received).toEqual([]);
  });
});

import { text } from 'node:stream/consumers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createUpstream } from '../../src/upstream/create-upstream.js';
import type { HealthCheckOptions, Upstream, UpstreamRequest } from '../../src/upstream/upstream.js';
import { startHttpServer, upstreamOptions, type TestServer } from './servers.js';

const GET: UpstreamRequest = { method: 'GET', path: '/', headers: {}, body: null, idempotent: true };
// Short intervals so that state changes within the test; the assertions wait for the state, never for time.
const CHECK: HealthCheckOptions = {
  path: '/healthz',
  intervalMs: 10,
  timeoutMs: 200,
  unhealthyAfter: 2,
  healthyAfter: 2,
};

interface Switchable extends TestServer {
  /** What `/healthz` does: answer with `status`, or never answer. */
  readonly control: { status: number; stall: boolean };
}

async function startSwitchable(name: string): Promise<Switchable> {
  const state = { status: 200, stall: false };
  const server = await startHttpServer((req, res) => {
    if (req.url === '/healthz') {
      if (state.stall) return;
      res.statusCode = state.status;
      res.end();
      return;
    }
    res.end(name);
  });
  return { ...server, control: state };
}

describe('upstream health checks', () => {
  const servers: TestServer[] = [];
  let upstream: Upstream | undefined;

  afterEach(async () => {
    await upstream?.close();
    upstream = undefined;
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  async function names(count: number): Promise<string[]> {
    const seen: string[] = [];
    for (let index = 0; index < count; index += 1) seen.push(await text((await upstream!.request(GET)).body));
    return seen;
  }

  function healthOf(index: number): boolean | undefined {
    return upstream?.health()[index]?.healthy;
  }

  it('takes a failing target out of rotation and puts it back when it recovers', async () => {
    const a = await startSwitchable('a');
    const b = await startSwitchable('b');
    servers.push(a, b);
    upstream = createUpstream(upstreamOptions([a.url, b.url], { healthCheck: CHECK }));
    upstream.start();
    upstream.start();
    await vi.waitFor(() => {
      expect(b.received.filter((line) => line === 'GET /healthz').length).toBeGreaterThanOrEqual(2);
    });
    expect(healthOf(1)).toBe(true);

    b.control.status = 503;
    await vi.waitFor(() => {
      expect(healthOf(1)).toBe(false);
    });
    expect(await names(4)).toEqual(['a', 'a', 'a', 'a']);

    b.control.status = 204;
    await vi.waitFor(() => {
      expect(healthOf(1)).toBe(true);
    });
    expect((await names(4)).sort()).toEqual(['a', 'a', 'b', 'b']);
  });

  it('counts a probe that times out as a failure', async () => {
    const a = await startSwitchable('a');
    servers.push(a);
    upstream = createUpstream(upstreamOptions([a.url], { healthCheck: { ...CHECK, timeoutMs: 50 } }));
    a.control.stall = true;
    upstream.start();
    await vi.waitFor(() => {
      expect(healthOf(0)).toBe(false);
    });
  });

  it('answers 502 without trying when no target is healthy', async () => {
    const a = await startSwitchable('a');
    servers.push(a);
    a.control.status = 500;
    upstream = createUpstream(upstreamOptions([a.url], { healthCheck: CHECK }));
    upstream.start();
    await vi.waitFor(() => {
      expect(healthOf(0)).toBe(false);
    });
    const before = a.received.filter((line) => line === 'GET /').length;
    await expect(upstream.request(GET)).rejects.toMatchObject({
      code: 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE',
      status: 502,
      detail: 'upstream test: no healthy target',
    });
    expect(a.received.filter((line) => line === 'GET /').length).toBe(before);
  });

  it('prefixes the probe path with the target base path and stops probing on close', async () => {
    const a = await startSwitchable('a');
    servers.push(a);
    upstream = createUpstream(upstreamOptions([`${a.url}/base`], { healthCheck: CHECK }));
    upstream.start();
    await vi.waitFor(() => {
      expect(a.received).toContain('GET /base/healthz');
    });
    await upstream.close();
    const count = a.received.length;
    upstream.start();
    // A negative check needs a few intervals to pass: nothing may be probed after close().
    await new Promise((resolve) => setTimeout(resolve, CHECK.intervalMs * 5));
    expect(a.received.length).toBe(count);
  });

  it('does nothing on start without a health check', async () => {
    const a = await startSwitchable('a');
    servers.push(a);
    upstream = createUpstream(upstreamOptions([a.url]));
    upstream.start();
    expect(await names(1)).toEqual(['a']);
    expect(a.received).toEqual(['GET /']);
  });
});

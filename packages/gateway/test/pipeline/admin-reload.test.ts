import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGatewayConfig, createGatewayAdminApp } from '../../src/index.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.js';
import { startGateway, type StartedGateway } from '../support/start-gateway.js';

const TOKEN = 'admin-token-for-tests-0123456789abcdef';
let upstream: RecordingUpstream;
let slow: RecordingUpstream;
let gw: StartedGateway;
let port = 0;
let admin: FastifyInstance;
let adminUrl: string;
let nextRoutes: 'v1' | 'v2' = 'v1';

function config(version: 'v1' | 'v2') {
  return buildGatewayConfig({
    listen: { host: '127.0.0.1', port },
    upstreams: { app: { targets: [upstream.url] }, slow: { targets: [slow.url] } },
    routes: [
      { id: 'slow', match: { pathPrefix: '/slow' }, upstream: 'slow', auth: 'none' },
      version === 'v1'
        ? { id: 'old', match: { pathPrefix: '/old' }, upstream: 'app', auth: 'none' }
        : { id: 'new', match: { pathPrefix: '/new' }, upstream: 'app', auth: 'none' },
    ],
  });
}

beforeAll(async () => {
  upstream = await startRecordingUpstream();
  slow = await startRecordingUpstream({
    handler(_req, res) {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('slow done');
      }, 400);
    },
  });
  const initial = config('v1');
  gw = await startGateway(initial);
  port = gw.port;
  admin = createGatewayAdminApp({
    gateway: gw.gateway,
    adminToken: TOKEN,
    logger: (await import('@gatehouse/core')).createLogger({ component: 'test', level: 'silent' }),
    reload: () => gw.gateway.reload(config(nextRoutes)),
    audit: (event) => {
      gw.audit.push(event);
    },
  });
  await admin.listen({ host: '127.0.0.1', port: 0 });
  const address = admin.server.address() as { port: number };
  adminUrl = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  await admin.close();
  await gw.close();
  await upstream.close();
  await slow.close();
});

const auth = { authorization: `Bearer ${TOKEN}` };

describe('admin API', () => {
  it.each([
    ['/admin/gateway/routes', undefined, 401],
    ['/admin/gateway/routes', 'Bearer wrong-token', 401],
    ['/admin/gateway/bans', 'Basic YWRtaW46YWRtaW4=', 401],
    ['/admin/gateway/nothing', undefined, 401],
  ])('GET %s with %s → %i', async (path, authorization, status) => {
    const res = await fetch(
      `${adminUrl}${path}`,
      authorization === undefined ? {} : { headers: { authorization } },
    );
    expect(res.status).toBe(status);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
  });

  it('serves probes and Prometheus metrics without a credential', async () => {
    expect((await fetch(`${adminUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${adminUrl}/readyz`)).status).toBe(200);
    await fetch(`${gw.url}/old/x`);
    const metrics = await fetch(`${adminUrl}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    expect(text).toMatch(/gatehouse_requests_total\{route="old",method="GET",code="200"\} \d+/);
    expect(text).toContain('gatehouse_request_duration_seconds_bucket{route="old",phase="gateway"');
    expect(text).toContain('gatehouse_request_duration_seconds_bucket{route="old",phase="upstream"');
    expect(text).toContain('gatehouse_bans_active 0');
    expect(text).toContain('gatehouse_upstream_circuit_state{upstream="app"');
  });

  it('lists routes', async () => {
    const res = await fetch(`${adminUrl}/admin/gateway/routes`, { headers: auth });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { routes: { id: string }[] };
    expect(body.routes.map((route) => route.id)).toContain('slow');
  });

  it('bans an address: 403 before any other work, then lifted', async () => {
    const add = await fetch(`${adminUrl}/admin/gateway/bans`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ subject: '127.0.0.1', durationSec: 60, reason: 'test' }),
    });
    expect(add.status).toBe(201);
    const before = upstream.requests.length;
    const refused = await fetch(`${gw.url}/old/x`);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { code: string }).code).toBe('ERR_GATEWAY_BANNED');
    expect(upstream.requests.length).toBe(before);
    const list = (await (await fetch(`${adminUrl}/admin/gateway/bans`, { headers: auth })).json()) as {
      bans: { subject: string }[];
    };
    expect(list.bans.map((ban) => ban.subject)).toContain('127.0.0.1');
    const metrics = await (await fetch(`${adminUrl}/metrics`)).text();
    expect(metrics).toContain('gatehouse_bans_active 1');
    const removed = await fetch(`${adminUrl}/admin/gateway/bans/127.0.0.1`, {
      method: 'DELETE',
      headers: auth,
    });
    expect(removed.status).toBe(204);
    expect((await fetch(`${gw.url}/old/x`)).status).toBe(200);
    expect(gw.audit.some((event) => event.action.startsWith('gateway.ban'))).toBe(true);
  });

  it.each([
    [{ subject: 'not-an-ip', durationSec: 60 }],
    [{ subject: '10.0.0.0/99', durationSec: 60 }],
    [{ subject: '10.0.0.1', durationSec: -1 }],
    [{ subject: '10.0.0.1', durationSec: 60, extra: true }],
  ])('refuses a bad ban %j with 400', async (input) => {
    const res = await fetch(`${adminUrl}/admin/gateway/bans`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(input),
    });
    expect(res.status).toBe(400);
  });
});

describe('hot reload', () => {
  it('swaps routes without dropping a request in flight', async () => {
    const inFlight = fetch(`${gw.url}/slow/1`).then(async (res) => ({
      status: res.status,
      text: await res.text(),
    }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    nextRoutes = 'v2';
    const res = await fetch(`${adminUrl}/admin/gateway/reload`, { method: 'POST', headers: auth });
    expect(res.status).toBe(200);
    expect(await inFlight).toEqual({ status: 200, text: 'slow done' });
    expect((await fetch(`${gw.url}/old/x`)).status).toBe(404);
    expect((await fetch(`${gw.url}/new/x`)).status).toBe(200);
    expect(gw.audit.some((event) => event.action === 'gateway.config.reload')).toBe(true);
  });

  it('keeps the configuration in force when the new one is refused', async () => {
    const bad = buildGatewayConfig({
      upstreams: { app: { targets: [upstream.url] } },
      routes: [
        {
          id: 'x',
          match: { pathPrefix: '/x' },
          upstream: 'app',
          auth: 'none',
          openapi: '/does/not/exist.yaml',
        },
      ],
    });
    await expect(gw.gateway.reload(bad)).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    expect((await fetch(`${gw.url}/new/x`)).status).toBe(200);
  });
});

describe('graceful shutdown', () => {
  it('finishes the request in flight, then stops listening', async () => {
    const other = await startGateway({
      upstreams: { slow: { targets: [slow.url] } },
      routes: [{ id: 'slow', match: { pathPrefix: '/' }, upstream: 'slow', auth: 'none' }],
    });
    const inFlight = fetch(`${other.url}/x`).then(async (res) => ({
      status: res.status,
      text: await res.text(),
    }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closing = other.close();
    expect(await inFlight).toEqual({ status: 200, text: 'slow done' });
    await closing;
    await expect(fetch(`${other.url}/x`)).rejects.toThrow();
  });
});

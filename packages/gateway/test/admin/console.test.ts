import { createLogger } from '@gatehouse/core';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGatewayAdminApp } from '../../src/index.js';
import { startGateway, type StartedGateway } from '../support/start-gateway.js';

/**
 * The admin console's files on the gateway admin listener (no token: static code, no data, under a
 * strict CSP) and `GET /admin/gateway/top-clients` (behind the token), fed by real requests.
 */
const TOKEN = 'console-test-admin-token-0123456789abcdef';
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

let gw: StartedGateway;
let app: FastifyInstance;
let adminUrl = '';

beforeAll(async () => {
  gw = await startGateway({
    upstreams: { app: { targets: ['http://127.0.0.1:9'] } },
    routes: [{ id: 'api', match: { pathPrefix: '/api' }, upstream: 'app', auth: 'none' }],
  });
  app = createGatewayAdminApp({
    gateway: gw.gateway,
    adminToken: TOKEN,
    logger: createLogger({ component: 'test', level: 'silent' }),
    reload: () => Promise.resolve(),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  adminUrl = `http://127.0.0.1:${String((app.server.address() as { port: number }).port)}`;
});

afterAll(async () => {
  await app.close();
  await gw.close();
});

describe('GET /admin/console', () => {
  it.each([
    ['/admin/console', 'text/html; charset=utf-8', '<title>Gatehouse admin console</title>'],
    ['/admin/console/', 'text/html; charset=utf-8', '<title>Gatehouse admin console</title>'],
    ['/admin/console/console.js', 'text/javascript; charset=utf-8', 'textContent'],
    [
      '/admin/console/metrics-text.js',
      'text/javascript; charset=utf-8',
      'export function parsePrometheusText',
    ],
    ['/admin/console/console.css', 'text/css; charset=utf-8', ':root'],
    ['/admin/console/favicon.svg', 'image/svg+xml', '<svg'],
  ])('%s is served without a token, under the strict CSP', async (path, type, contains) => {
    const response = await fetch(`${adminUrl}${path}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(type);
    expect(response.headers.get('content-security-policy')).toBe(CSP);
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await response.text()).toContain(contains);
  });

  it.each([
    '/admin/console/metrics-text.test.ts',
    '/admin/console/register-console-routes.ts',
    '/admin/console/../console/console.js.map',
    '/admin/console/%2e%2e/register-gateway-admin-routes.ts',
    '/admin/console/index.html/',
  ])('%s is 404 (only the listed files are served)', async (path) => {
    const response = await fetch(`${adminUrl}${path}`);
    expect(response.status).toBe(404);
    await response.body?.cancel();
  });

  it('holds no data: the page has no token and no value of the gateway', async () => {
    const html = await (await fetch(`${adminUrl}/admin/console`)).text();
    expect(html).not.toContain(TOKEN);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/);
    expect(html).not.toMatch(/\sstyle=/);
  });
});

describe('GET /admin/gateway/top-clients', () => {
  it('needs the admin token', async () => {
    const response = await fetch(`${adminUrl}/admin/gateway/top-clients`);
    expect(response.status).toBe(401);
    await response.body?.cancel();
  });

  it('lists the heaviest clients of the gateway, errors counted', async () => {
    for (let i = 0; i < 3; i++) await (await fetch(`${gw.url}/nothing-here`)).body?.cancel();
    const response = await fetch(`${adminUrl}/admin/gateway/top-clients?limit=5`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      since: string;
      periodSec: number;
      capacity: number;
      clients: { kind: string; id: string; requests: number; errors: number }[];
    };
    expect(body.periodSec).toBe(300);
    expect(body.capacity).toBe(128);
    expect(Number.isNaN(Date.parse(body.since))).toBe(false);
    expect(body.clients).toEqual([{ kind: 'ip', id: '127.0.0.1', requests: 3, errors: 3, overcount: 0 }]);
  });

  it.each(['0', '1001', 'many'])('refuses limit=%s (400)', async (limit) => {
    const response = await fetch(`${adminUrl}/admin/gateway/top-clients?limit=${limit}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(response.status).toBe(400);
    await response.body?.cancel();
  });
});

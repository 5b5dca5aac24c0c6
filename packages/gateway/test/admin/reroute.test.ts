import type { AddressInfo } from 'node:net';
import { createLogger, type AuditEvent } from '@gatehouse/core';
import { requireService } from '@gatehouse/testing';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  buildGatewayConfig,
  createGateway,
  createGatewayAdminApp,
  type Gateway,
  type GatewayConfigInput,
} from '../../src/index.js';
import { REROUTES_CHANNEL } from '../../src/routing/reroute-list.js';
import { openBanBacking, type BanBacking, type SqlKind, type StateKind } from '../limits/ban-backing.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.js';

/**
 * Alertmanager reroutes: a firing alert labelled `gatehouse_action="reroute"` and `route="<id>"`
 * sends that route to its fallbackUpstream, the resolved alert (or the reroute's expiry) sends it
 * back; operators list and lift reroutes; every instance sees one within a second, and a restart
 * keeps it. Real gateways on port 0 over real upstreams, notifications posted as Alertmanager does.
 */
const TOKEN = 'reroute-test-admin-token-0123456789abcd';
const PROPAGATION = { timeout: 1000, interval: 10 };

let primary: RecordingUpstream;
let backup: RecordingUpstream;

/** An upstream that answers with its own name and the path it was asked for. */
const named = (name: string) =>
  startRecordingUpstream({
    handler(req, res) {
      const body = JSON.stringify({ upstream: name, url: req.url });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    },
  });

beforeAll(async () => {
  [primary, backup] = await Promise.all([named('primary'), named('backup')]);
});
afterAll(async () => {
  await Promise.all([primary.close(), backup.close()]);
});

function gatewayConfig(withFallback = true): GatewayConfigInput {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    upstreams: {
      primary: { targets: [primary.url] },
      backup: { targets: [backup.url] },
      // Nothing listens on port 9: a fallback that is down fails as any upstream does.
      dead: { targets: ['http://127.0.0.1:9'], retries: 0 },
    },
    routes: [
      {
        id: 'api',
        match: { pathPrefix: '/api' },
        upstream: 'primary',
        ...(withFallback ? { fallbackUpstream: 'backup' } : {}),
        stripPrefix: '/api',
        addPrefix: '/v1',
        auth: 'none',
      },
      { id: 'plain', match: { pathPrefix: '/plain' }, upstream: 'primary', auth: 'none' },
      {
        id: 'fragile',
        match: { pathPrefix: '/fragile' },
        upstream: 'primary',
        fallbackUpstream: 'dead',
        auth: 'none',
      },
    ],
  };
}

interface Instance {
  readonly gateway: Gateway;
  readonly url: string;
  readonly adminUrl: string;
  readonly audit: AuditEvent[];
  close(): Promise<void>;
}

/** A gateway and its admin listener on the backing's database and instance `i`'s shared state. */
async function startInstance(backing: BanBacking, i: number, withFallback = true): Promise<Instance> {
  const audit: AuditEvent[] = [];
  const gateway = await createGateway({
    config: buildGatewayConfig(gatewayConfig(withFallback)),
    baseDir: process.cwd(),
    db: backing.sql.db as Kysely<unknown>,
    state: backing.state(i),
    logger: backing.logger,
    audit: (event) => void audit.push(event),
    now: backing.clock.now,
  });
  const url = await gateway.listen();
  const admin: FastifyInstance = createGatewayAdminApp({
    gateway,
    adminToken: TOKEN,
    logger: createLogger({ component: 'test', level: 'silent' }),
    reload: () => Promise.resolve(),
    audit: (event) => void audit.push(event),
  });
  await admin.listen({ host: '127.0.0.1', port: 0 });
  const adminUrl = `http://127.0.0.1:${String((admin.server.address() as AddressInfo).port)}`;
  return {
    gateway,
    url,
    adminUrl,
    audit,
    async close() {
      await admin.close();
      await gateway.close(1000);
    },
  };
}

interface AlertInput {
  readonly status?: 'firing' | 'resolved';
  readonly labels: Record<string, string>;
  readonly fingerprint?: string | undefined;
}

/** Posts an Alertmanager webhook notification (version 4), as Alertmanager 0.25 sends it. */
function notify(
  instance: Instance,
  alerts: readonly AlertInput[],
  token: string | null = TOKEN,
): Promise<Response> {
  const full = alerts.map((alert) => ({
    status: alert.status ?? 'firing',
    labels: { alertname: 'GatehouseUpstreamDown', ...alert.labels },
    annotations: { summary: 'test' },
    startsAt: '2026-01-01T00:00:00Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus.example/graph',
    ...(alert.fingerprint === undefined ? {} : { fingerprint: alert.fingerprint }),
  }));
  return fetch(`${instance.adminUrl}/admin/gateway/alertmanager`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({
      version: '4',
      groupKey: '{}/{gatehouse_action="reroute"}:{alertname="GatehouseUpstreamDown"}',
      truncatedAlerts: 0,
      status: full.some((alert) => alert.status === 'firing') ? 'firing' : 'resolved',
      receiver: 'gatehouse-gateway-reroutes',
      groupLabels: {},
      commonLabels: {},
      commonAnnotations: {},
      externalURL: 'http://alertmanager.example',
      alerts: full,
    }),
  });
}

const reroute = (route: string, extra: Record<string, string> = {}) => ({
  gatehouse_action: 'reroute',
  route,
  ...extra,
});

interface OutcomeBody {
  received: number;
  alerts: { action: string; reason?: string; route?: string; upstream?: string; expiresAt?: number }[];
}

async function outcomes(res: Response): Promise<OutcomeBody['alerts']> {
  expect(res.status).toBe(200);
  return ((await res.json()) as OutcomeBody).alerts;
}

/** Which upstream answered a request through the gateway, and the path it saw. */
async function served(instance: Instance, path: string): Promise<{ upstream: string; url: string }> {
  const res = await fetch(`${instance.url}${path}`);
  expect(res.status).toBe(200);
  return (await res.json()) as { upstream: string; url: string };
}

const upstreamOf = async (instance: Instance, path: string): Promise<string> =>
  (await served(instance, path)).upstream;

function admin(instance: Instance, path: string, init: RequestInit = {}, token: string | null = TOKEN) {
  return fetch(`${instance.adminUrl}/admin/gateway${path}`, {
    ...init,
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
}

const rerouteEvents = (audit: readonly AuditEvent[], reason?: string): AuditEvent[] =>
  audit.filter(
    (event) => event.action === 'gateway.reroute' && (reason === undefined || event.reason === reason),
  );

describe('reroutes from Alertmanager notifications', () => {
  let backing: BanBacking;
  let gw: Instance;

  beforeAll(async () => {
    backing = await openBanBacking('sqlite', 'memory');
    gw = await startInstance(backing, 0);
  });
  afterAll(async () => {
    await gw.close();
    await backing.release();
  });
  afterEach(async () => {
    await backing.sql.db.deleteFrom('gateway_reroutes').execute();
    // A resync reads the emptied table (a test may leave a reroute behind).
    await gw.gateway.reroutes.lift('api');
    await gw.gateway.reroutes.lift('fragile');
    gw.audit.length = 0;
  });

  it('a firing alert sends the route to its fallback; the resolved one sends it back', async () => {
    expect(await served(gw, '/api/accounts/7')).toEqual({ upstream: 'primary', url: '/v1/accounts/7' });
    const fired = await outcomes(await notify(gw, [{ labels: reroute('api'), fingerprint: 'f1' }]));
    expect(fired).toEqual([
      expect.objectContaining({
        alertname: 'GatehouseUpstreamDown',
        action: 'rerouted',
        route: 'api',
        upstream: 'backup',
        expiresAt: backing.clock.now() + 3600_000,
      }),
    ]);
    // Path rewriting is the route's own, whichever upstream serves it.
    expect(await served(gw, '/api/accounts/7')).toEqual({ upstream: 'backup', url: '/v1/accounts/7' });
    expect(await upstreamOf(gw, '/plain/x')).toBe('primary');
    expect(rerouteEvents(gw.audit)).toEqual([
      expect.objectContaining({
        outcome: 'success',
        reason: 'set',
        actor: { sub: 'alertmanager' },
        target: { type: 'route', id: 'api' },
        details: expect.objectContaining({
          alertname: 'GatehouseUpstreamDown',
          fingerprint: 'f1',
          upstream: 'backup',
        }),
      }),
    ]);
    expect(gw.audit).toContainEqual(
      expect.objectContaining({
        action: 'gateway.alert.received',
        details: expect.objectContaining({ action: 'rerouted', route: 'api' }),
      }),
    );
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^gatehouse_gateway_reroutes_active\{route="api"\} 1$/m);
    expect(metrics).toMatch(/^gatehouse_gateway_reroutes_active\{route="fragile"\} 0$/m);
    expect(metrics).not.toMatch(/gatehouse_gateway_reroutes_active\{route="plain"\}/);
    const routes = (await (await admin(gw, '/routes')).json()) as { routes: { id: string }[] };
    expect(routes.routes.find((route) => route.id === 'api')).toMatchObject({
      upstream: 'primary',
      fallbackUpstream: 'backup',
      rerouted: true,
    });

    const resolved = await outcomes(
      await notify(gw, [{ status: 'resolved', labels: reroute('api'), fingerprint: 'f1' }]),
    );
    expect(resolved).toEqual([
      expect.objectContaining({ action: 'restored', route: 'api', stillRerouted: false }),
    ]);
    expect(await upstreamOf(gw, '/api/accounts/7')).toBe('primary');
    expect(rerouteEvents(gw.audit, 'lifted')).toHaveLength(1);
    expect(await (await fetch(`${gw.adminUrl}/metrics`)).text()).toMatch(
      /^gatehouse_gateway_reroutes_active\{route="api"\} 0$/m,
    );
  });

  it('matches a resolved alert without a fingerprint by alertname and route', async () => {
    await outcomes(await notify(gw, [{ labels: reroute('api') }]));
    expect(await upstreamOf(gw, '/api/x')).toBe('backup');
    // Another alert's resolution leaves it alone.
    const other = await outcomes(
      await notify(gw, [{ status: 'resolved', labels: { ...reroute('api'), alertname: 'Other' } }]),
    );
    expect(other[0]).toMatchObject({ action: 'ignored' });
    expect(await upstreamOf(gw, '/api/x')).toBe('backup');
    await outcomes(await notify(gw, [{ status: 'resolved', labels: reroute('api') }]));
    expect(await upstreamOf(gw, '/api/x')).toBe('primary');
  });

  it('stays rerouted while any of its alerts fires (one notification may carry both states)', async () => {
    await outcomes(
      await notify(gw, [
        { labels: { ...reroute('api'), instance: 'gw-1' }, fingerprint: 'a1' },
        { labels: { ...reroute('api'), instance: 'gw-2' }, fingerprint: 'a2' },
      ]),
    );
    expect((await (await admin(gw, '/reroutes')).json()) as unknown).toMatchObject({
      reroutes: [
        { route: 'api', fingerprint: expect.any(String) as string },
        { route: 'api', fingerprint: expect.any(String) as string },
      ],
    });
    const mixed = await outcomes(
      await notify(gw, [
        { status: 'resolved', labels: { ...reroute('api'), instance: 'gw-1' }, fingerprint: 'a1' },
        { labels: { ...reroute('api'), instance: 'gw-2' }, fingerprint: 'a2' },
      ]),
    );
    expect(mixed).toEqual([
      expect.objectContaining({ action: 'restored', stillRerouted: true }),
      expect.objectContaining({ action: 'rerouted', reason: 'renewed' }),
    ]);
    expect(await upstreamOf(gw, '/api/x')).toBe('backup');
    await outcomes(
      await notify(gw, [
        { status: 'resolved', labels: { ...reroute('api'), instance: 'gw-2' }, fingerprint: 'a2' },
      ]),
    );
    expect(await upstreamOf(gw, '/api/x')).toBe('primary');
  });

  it('expires unless a repeat notification renews it (the resolved one can be lost)', async () => {
    await outcomes(await notify(gw, [{ labels: reroute('api'), fingerprint: 'e1' }]));
    backing.clock.advance(50 * 60_000);
    const repeat = await outcomes(await notify(gw, [{ labels: reroute('api'), fingerprint: 'e1' }]));
    expect(repeat[0]).toMatchObject({ action: 'rerouted', reason: 'renewed' });
    expect(rerouteEvents(gw.audit, 'renewed')).toHaveLength(1);
    backing.clock.advance(50 * 60_000);
    expect(await upstreamOf(gw, '/api/x')).toBe('backup');
    backing.clock.advance(10 * 60_000);
    expect(await upstreamOf(gw, '/api/x')).toBe('primary');
    expect(await (await admin(gw, '/reroutes')).json()).toEqual({ reroutes: [] });
    // The sweep (every second) deletes the row and audits the expiry.
    await expect.poll(() => rerouteEvents(gw.audit, 'expired').length, { timeout: 3000 }).toBe(1);
    expect(await backing.sql.db.selectFrom('gateway_reroutes').selectAll().execute()).toEqual([]);
  });

  it('lasts gatehouse_reroute_duration', async () => {
    const [outcome] = await outcomes(
      await notify(gw, [{ labels: reroute('api', { gatehouse_reroute_duration: '5m' }), fingerprint: 'd1' }]),
    );
    expect(outcome?.expiresAt).toBe(backing.clock.now() + 300_000);
    backing.clock.advance(300_000);
    expect(await upstreamOf(gw, '/api/x')).toBe('primary');
  });

  it.each([
    { name: 'an unknown route', labels: reroute('nope'), reason: 'no such route' },
    {
      name: 'a route without fallbackUpstream',
      labels: reroute('plain'),
      reason: 'the route has no fallbackUpstream',
    },
    { name: 'no route label', labels: { gatehouse_action: 'reroute' }, reason: 'label route is missing' },
    {
      name: 'a duration beyond 24h',
      labels: reroute('api', { gatehouse_reroute_duration: '25h' }),
      reason: expect.stringContaining('at most 24h') as string,
    },
    {
      name: 'a duration that is not one',
      labels: reroute('api', { gatehouse_reroute_duration: 'until fixed' }),
      reason: expect.stringContaining('not a duration') as string,
    },
    {
      name: 'a zero duration',
      labels: reroute('api', { gatehouse_reroute_duration: '0m' }),
      reason: expect.stringContaining('not a duration') as string,
    },
  ])('refuses $name: nothing rerouted, the refusal reported and audited', async ({ labels, reason }) => {
    const result = await outcomes(await notify(gw, [{ labels, fingerprint: 'r1' }]));
    expect(result).toEqual([expect.objectContaining({ action: 'refused', reason })]);
    expect(await upstreamOf(gw, '/api/x')).toBe('primary');
    expect(await upstreamOf(gw, '/plain/x')).toBe('primary');
    expect(await gw.gateway.reroutes.list()).toEqual([]);
    expect(rerouteEvents(gw.audit)).toEqual([]);
    expect(gw.audit.at(-1)).toMatchObject({ action: 'gateway.alert.received', outcome: 'failure' });
  });

  it.each([
    { name: 'without a credential', token: null },
    { name: 'with another token', token: 'not-the-admin-token-0123456789abcdef' },
  ])('refuses a notification $name (401): nothing rerouted', async ({ token }) => {
    const res = await notify(gw, [{ labels: reroute('api'), fingerprint: 'u1' }], token);
    expect(res.status).toBe(401);
    expect(await upstreamOf(gw, '/api/x')).toBe('primary');
    expect(await gw.gateway.reroutes.list()).toEqual([]);
  });

  it('operators list and lift reroutes (admin token), audited', async () => {
    await outcomes(await notify(gw, [{ labels: reroute('api'), fingerprint: 'o1' }]));
    const listed = (await (await admin(gw, '/reroutes')).json()) as { reroutes: object[] };
    expect(listed.reroutes).toEqual([
      expect.objectContaining({
        route: 'api',
        upstream: 'backup',
        alertname: 'GatehouseUpstreamDown',
        fingerprint: 'o1',
        source: 'alertmanager',
        expiresAt: backing.clock.now() + 3600_000,
      }),
    ]);
    expect((await admin(gw, '/reroutes', {}, null)).status).toBe(401);
    expect((await admin(gw, '/reroutes/api', { method: 'DELETE' }, null)).status).toBe(401);
    expect(await upstreamOf(gw, '/api/x')).toBe('backup');

    const lifted = await admin(gw, '/reroutes/api', { method: 'DELETE' });
    expect(lifted.status).toBe(204);
    expect(await upstreamOf(gw, '/api/x')).toBe('primary');
    expect(rerouteEvents(gw.audit, 'lifted')).toEqual([
      expect.objectContaining({ actor: { sub: 'admin-api' }, target: { type: 'route', id: 'api' } }),
    ]);
    const again = await admin(gw, '/reroutes/api', { method: 'DELETE' });
    expect(again.status).toBe(404);
    expect(again.headers.get('content-type')).toContain('application/problem+json');
    expect(rerouteEvents(gw.audit).at(-1)).toMatchObject({ outcome: 'failure', reason: 'not_rerouted' });
  });

  it('a fallback that is down fails as any upstream does (problem+json, no details)', async () => {
    await outcomes(await notify(gw, [{ labels: reroute('fragile'), fingerprint: 'x1' }]));
    const res = await fetch(`${gw.url}/fragile/x`);
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const body = await res.text();
    expect(body).not.toContain('127.0.0.1');
    expect(body).not.toContain('dead');
    // The cause is in the log, with the route.
    expect(
      backing.logs.some(
        (line) => line.includes('ERR_GATEWAY_UPSTREAM_UNAVAILABLE') && line.includes('"route":"fragile"'),
      ),
    ).toBe(true);
    expect(await upstreamOf(gw, '/api/x')).toBe('primary');
  });
});

const postgres = await requireService('postgres', 'reroutes shared over PostgreSQL');
const redis = await requireService('redis', 'reroutes shared over Redis');

const SETUPS: readonly (readonly [SqlKind, StateKind, boolean])[] = [
  ['sqlite', 'memory', true],
  ['postgres', 'redis', postgres.available && redis.available],
];

describe.each(SETUPS)('reroutes shared by gateways on %s with %s state', (sqlKind, stateKind, available) => {
  let backing: BanBacking;
  const started: Instance[] = [];
  const start = async (i: number, withFallback = true): Promise<Instance> => {
    const instance = await startInstance(backing, i, withFallback);
    started.push(instance);
    return instance;
  };

  beforeAll(async () => {
    if (available) backing = await openBanBacking(sqlKind, stateKind);
  });
  afterAll(async () => {
    if (available) await backing.release();
  });
  afterEach(async () => {
    if (!available) return;
    await Promise.all(started.splice(0).map((instance) => instance.close()));
    await backing.sql.db.deleteFrom('gateway_reroutes').execute();
  });

  describe.skipIf(!available)('', () => {
    it('a notification reaching one gateway reroutes on the other within a second, and back', async () => {
      const a = await start(0);
      const b = await start(1);
      await outcomes(await notify(a, [{ labels: reroute('api'), fingerprint: 's1' }]));
      await expect.poll(() => b.gateway.reroutes.isRerouted('api'), PROPAGATION).toBe(true);
      expect(await upstreamOf(b, '/api/x')).toBe('backup');
      await outcomes(await notify(a, [{ status: 'resolved', labels: reroute('api'), fingerprint: 's1' }]));
      await expect.poll(() => b.gateway.reroutes.isRerouted('api'), PROPAGATION).toBe(false);
      expect(await upstreamOf(b, '/api/x')).toBe('primary');
      // A lift on the other instance propagates as well.
      await outcomes(await notify(b, [{ labels: reroute('api'), fingerprint: 's2' }]));
      await expect.poll(() => a.gateway.reroutes.isRerouted('api'), PROPAGATION).toBe(true);
      expect((await admin(a, '/reroutes/api', { method: 'DELETE' })).status).toBe(204);
      await expect.poll(() => b.gateway.reroutes.isRerouted('api'), PROPAGATION).toBe(false);
    });

    it('a message on the channel only makes an instance reread; a row without one lands at its resync', async () => {
      const a = await start(0);
      await backing.state(1).publish(REROUTES_CHANNEL, '{"type":"set","route":"api"}');
      await backing.state(1).publish(REROUTES_CHANNEL, 'api');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(a.gateway.reroutes.isRerouted('api')).toBe(false);
      // Written by another process that published nothing (or whose message was lost).
      const t = backing.clock.now();
      await backing.sql.db
        .insertInto('gateway_reroutes')
        .values({
          id: 'written-elsewhere',
          route: 'api',
          alert_key: 'alertname:Manual',
          alertname: 'Manual',
          fingerprint: null,
          source: 'alertmanager',
          created_at: t,
          renewed_at: t,
          expires_at: t + 60_000,
        })
        .execute();
      await expect
        .poll(() => a.gateway.reroutes.isRerouted('api'), { timeout: 2000, interval: 20 })
        .toBe(true);
    });

    it('an expiry is audited once, by one instance', async () => {
      const a = await start(0);
      const b = await start(1);
      await outcomes(await notify(a, [{ labels: reroute('api', { gatehouse_reroute_duration: '1m' }) }]));
      await expect.poll(() => b.gateway.reroutes.isRerouted('api'), PROPAGATION).toBe(true);
      backing.clock.advance(60_000);
      expect(a.gateway.reroutes.isRerouted('api')).toBe(false);
      expect(b.gateway.reroutes.isRerouted('api')).toBe(false);
      const expired = () => rerouteEvents([...a.audit, ...b.audit], 'expired').length;
      await expect.poll(expired, { timeout: 3000 }).toBe(1);
      // Both have swept since (every second): still one.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(expired()).toBe(1);
    });

    it('a restart keeps the reroute: the new instance loads it before it serves', async () => {
      const a = await start(0);
      await outcomes(await notify(a, [{ labels: reroute('api'), fingerprint: 'k1' }]));
      await a.close();
      started.splice(started.indexOf(a), 1);
      const restarted = await start(0);
      expect(restarted.gateway.reroutes.isRerouted('api')).toBe(true);
      expect(await upstreamOf(restarted, '/api/x')).toBe('backup');
    });

    it('a reload that removes the fallback drops the reroute with a log line, on every instance', async () => {
      const a = await start(0);
      const b = await start(1);
      await outcomes(await notify(a, [{ labels: reroute('api'), fingerprint: 'p1' }]));
      await expect.poll(() => b.gateway.reroutes.isRerouted('api'), PROPAGATION).toBe(true);
      await a.gateway.reload(buildGatewayConfig(gatewayConfig(false)));
      expect(await upstreamOf(a, '/api/x')).toBe('primary');
      expect(backing.logs.some((line) => line.includes('reroute dropped'))).toBe(true);
      expect(rerouteEvents(a.audit, 'dropped')).toEqual([
        expect.objectContaining({ target: { type: 'route', id: 'api' } }),
      ]);
      expect(await a.gateway.reroutes.list()).toEqual([]);
      await expect.poll(() => b.gateway.reroutes.isRerouted('api'), PROPAGATION).toBe(false);
      // A reload that keeps the fallback keeps the reroute.
      await outcomes(await notify(b, [{ labels: reroute('api'), fingerprint: 'p2' }]));
      await b.gateway.reload(buildGatewayConfig(gatewayConfig(true)));
      expect(b.gateway.reroutes.isRerouted('api')).toBe(true);
    });
  });
});

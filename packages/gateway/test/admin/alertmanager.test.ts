import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, type AuditEvent } from '@gatehouse/core';
import { alertmanagerPath, freePort, requireService } from '@gatehouse/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { createGatewayAdminApp } from '../../src/index.js';
import { startGateway, type StartedGateway } from '../support/start-gateway.js';

/**
 * Alertmanager's webhook receiver on the gateway admin API: firing alerts labelled
 * `gatehouse_action="ban"` ban their `ip`, everything is audited, nothing else acts. Then the shipped
 * deploy/alertmanager/alertmanager.yml, run by a real Alertmanager, routes such an alert to the gateway,
 * and a `gatehouse_action="reroute"` alert too (reroutes themselves: reroute.test.ts).
 */
const TOKEN = 'alertmanager-test-admin-token-0123456789';
const CONFIG = fileURLToPath(new URL('../../../../deploy/alertmanager/alertmanager.yml', import.meta.url));

let gw: StartedGateway;
let app: FastifyInstance;
let adminUrl = '';
const audit: AuditEvent[] = [];

beforeAll(async () => {
  gw = await startGateway({
    upstreams: { app: { targets: ['http://127.0.0.1:9'] }, backup: { targets: ['http://127.0.0.1:9'] } },
    routes: [
      { id: 'api', match: { pathPrefix: '/api' }, upstream: 'app', fallbackUpstream: 'backup', auth: 'none' },
    ],
  });
  app = createGatewayAdminApp({
    gateway: gw.gateway,
    adminToken: TOKEN,
    logger: createLogger({ component: 'test', level: 'silent' }),
    reload: () => Promise.resolve(),
    audit: (event) => void audit.push(event),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  adminUrl = `http://127.0.0.1:${String((app.server.address() as { port: number }).port)}`;
});

afterAll(async () => {
  await app.close();
  await gw.close();
});

function notify(alerts: readonly object[], token: string | null = TOKEN, version = '4'): Promise<Response> {
  return fetch(`${adminUrl}/admin/gateway/alertmanager`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({ version, status: 'firing', receiver: 'gatehouse-gateway', alerts }),
  });
}

const alert = (labels: Record<string, string>, status = 'firing') => ({
  status,
  labels: { alertname: 'CredentialStuffingFromLogs', ...labels },
  annotations: { summary: 'test' },
  fingerprint: 'abc123',
});

describe('POST /admin/gateway/alertmanager', () => {
  it.each([
    { name: 'without the admin token', send: () => notify([], null), status: 401 },
    { name: 'with another token', send: () => notify([], 'wrong-token-0123456789012345'), status: 401 },
    { name: 'a notification of another version', send: () => notify([], TOKEN, '3'), status: 400 },
  ])('refuses $name ($status), bans nothing', async ({ send, status }) => {
    const before = (await gw.gateway.bans.list()).length;
    const res = await send();
    expect(res.status).toBe(status);
    expect((await gw.gateway.bans.list()).length).toBe(before);
  });

  it('bans the ip of a firing ban alert for its duration (source alertmanager), audited', async () => {
    const res = await notify([
      alert({ gatehouse_action: 'ban', ip: '203.0.113.10', gatehouse_ban_duration: '2h' }),
    ]);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { received: number; alerts: { action: string; subject?: string }[] };
    expect(body.received).toBe(1);
    expect(body.alerts[0]).toMatchObject({ action: 'banned', subject: '203.0.113.10' });
    const ban = gw.gateway.bans.isBanned('203.0.113.10');
    expect(ban?.source).toBe('alertmanager');
    expect(ban?.reason).toBe('alert CredentialStuffingFromLogs');
    expect((ban?.expiresAt ?? 0) - (ban?.createdAt ?? 0)).toBe(2 * 3600 * 1000);
    expect(audit.at(-1)).toMatchObject({
      action: 'gateway.alert.received',
      outcome: 'success',
      details: { alertname: 'CredentialStuffingFromLogs', action: 'banned', subject: '203.0.113.10' },
    });
  });

  it('defaults the ban to 15 minutes', async () => {
    await notify([alert({ gatehouse_action: 'ban', ip: '203.0.113.11' })]);
    const ban = gw.gateway.bans.isBanned('203.0.113.11');
    expect((ban?.expiresAt ?? 0) - (ban?.createdAt ?? 0)).toBe(15 * 60 * 1000);
  });

  it.each([
    { name: 'an ip label that is not an address', labels: { gatehouse_action: 'ban', ip: 'evil.example' } },
    {
      name: 'a CIDR block (alerts ban one address)',
      labels: { gatehouse_action: 'ban', ip: '203.0.113.0/24' },
    },
    { name: 'no ip label', labels: { gatehouse_action: 'ban' } },
    {
      name: 'a duration beyond 7 days',
      labels: { gatehouse_action: 'ban', ip: '203.0.113.12', gatehouse_ban_duration: '30d' },
    },
    {
      name: 'a duration that is not one',
      labels: { gatehouse_action: 'ban', ip: '203.0.113.12', gatehouse_ban_duration: 'forever' },
    },
  ])('refuses $name: nothing banned, the refusal audited', async ({ labels }) => {
    const before = (await gw.gateway.bans.list()).length;
    const res = await notify([alert(labels)]);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { alerts: { action: string }[] }).alerts[0]?.action).toBe('refused');
    expect((await gw.gateway.bans.list()).length).toBe(before);
    expect(audit.at(-1)).toMatchObject({ action: 'gateway.alert.received', outcome: 'failure' });
  });

  it.each([
    {
      name: 'a resolved ban alert',
      send: () => notify([alert({ gatehouse_action: 'ban', ip: '203.0.113.13' }, 'resolved')]),
    },
    { name: 'an alert without an action', send: () => notify([alert({ ip: '203.0.113.13' })]) },
  ])('records $name and bans nothing', async ({ send }) => {
    const res = await send();
    expect(res.status).toBe(200);
    expect(((await res.json()) as { alerts: { action: string }[] }).alerts[0]?.action).toBe('ignored');
    expect(gw.gateway.bans.isBanned('203.0.113.13')).toBeUndefined();
    expect(audit.at(-1)).toMatchObject({ action: 'gateway.alert.received', details: { action: 'ignored' } });
  });
});

const alertmanager = await requireService('alertmanager', 'Alertmanager routing to the gateway');

describe.runIf(alertmanager.available)('the shipped Alertmanager configuration, run by Alertmanager', () => {
  let dir = '';
  let child: ChildProcess | undefined;
  let apiUrl = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-alertmanager-'));
    writeFileSync(join(dir, 'token'), TOKEN, { mode: 0o600 });
    // The shipped file, with this test's addresses: the gateway's admin listener (plain HTTP on
    // loopback here, so no CA), and the people's receivers pointed at a closed port.
    const config = parseYaml(readFileSync(CONFIG, 'utf8')) as {
      route: { routes: { matchers: string[]; group_interval?: string }[] };
      receivers: {
        name: string;
        webhook_configs: { url: string; http_config?: Record<string, unknown> }[];
      }[];
    };
    for (const receiver of config.receivers) {
      for (const webhook of receiver.webhook_configs) {
        if (receiver.name.startsWith('gatehouse-gateway')) {
          webhook.url = `${adminUrl}/admin/gateway/alertmanager`;
          webhook.http_config = { authorization: { type: 'Bearer', credentials_file: join(dir, 'token') } };
        } else webhook.url = 'http://127.0.0.1:9/hooks';
      }
    }
    // A resolved alert is sent at the group's next interval: seconds here, not the shipped minute.
    for (const route of config.route.routes)
      if (route.matchers.includes('gatehouse_action="reroute"') && route.group_interval !== undefined)
        route.group_interval = '1s';
    writeFileSync(join(dir, 'alertmanager.yml'), stringifyYaml(config));
    const port = await freePort();
    apiUrl = `http://127.0.0.1:${String(port)}`;
    expect(spawnSync('amtool', ['check-config', join(dir, 'alertmanager.yml')]).status).toBe(0);
    child = spawn(
      alertmanagerPath(),
      [
        `--config.file=${join(dir, 'alertmanager.yml')}`,
        `--storage.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${String(port)}`,
        '--cluster.listen-address=',
      ],
      { stdio: 'ignore' },
    );
    await until(async () => (await fetch(`${apiUrl}/-/ready`).catch(() => undefined))?.status === 200);
  });

  afterAll(() => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('routes a ban alert to the gateway, which bans the address', async () => {
    const res = await fetch(`${apiUrl}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        {
          labels: {
            alertname: 'StuffingFromLogs',
            gatehouse_action: 'ban',
            ip: '198.51.100.77',
            severity: 'warning',
          },
          annotations: { summary: 'credential stuffing seen in the auth server logs' },
        },
      ]),
    });
    expect(res.status).toBe(200);
    await until(() => Promise.resolve(gw.gateway.bans.isBanned('198.51.100.77') !== undefined));
    expect(gw.gateway.bans.isBanned('198.51.100.77')?.source).toBe('alertmanager');
  });

  it('routes a reroute alert to the gateway, and its resolution switches the route back', async () => {
    const labels = {
      alertname: 'ApiBackendDown',
      gatehouse_action: 'reroute',
      route: 'api',
      severity: 'critical',
    };
    const post = (endsAt?: string) =>
      fetch(`${apiUrl}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([
          { labels, annotations: { summary: 'api backend down' }, ...(endsAt ? { endsAt } : {}) },
        ]),
      });
    expect((await post()).status).toBe(200);
    await until(() => Promise.resolve(gw.gateway.reroutes.isRerouted('api')));
    expect(await gw.gateway.reroutes.list()).toEqual([
      expect.objectContaining({ route: 'api', alertname: 'ApiBackendDown', source: 'alertmanager' }),
    ]);
    // Resolved (send_resolved on the reroute receiver): the route goes back to its upstream.
    expect((await post(new Date(Date.now() - 1000).toISOString())).status).toBe(200);
    await until(() => Promise.resolve(!gw.gateway.reroutes.isRerouted('api')));
    expect(gw.audit).toContainEqual(
      expect.objectContaining({
        action: 'gateway.reroute',
        reason: 'lifted',
        actor: { sub: 'alertmanager' },
      }),
    );
  });
});

async function until(condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

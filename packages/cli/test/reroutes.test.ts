import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDeployment, type TestDeployment } from './helpers/cli.js';
import {
  ADMIN_AUTH,
  buildGatewayYaml,
  pollUntil,
  publicRoute,
  startGatewayInProcess,
  startUpstream,
  type TestUpstream,
} from './helpers/gateway.js';

interface RerouteJson {
  route: string;
  alertname: string;
  fingerprint?: string;
  source: string;
  expiresAt: number;
}

/** A running gateway resyncs from the database every second (no shared state with the CLI here). */
const RESYNC_DEADLINE_MS = 1500;

describe('gatehouse reroutes', () => {
  let primary: TestUpstream;
  let backup: TestUpstream;
  let deployment: TestDeployment;

  beforeAll(async () => {
    [primary, backup] = await Promise.all([startUpstream(), startUpstream()]);
  });
  afterAll(async () => {
    await Promise.all([primary.close(), backup.close()]);
  });
  afterEach(async () => {
    await deployment.remove();
  });

  /** The `echo` upstream of the builder, and a `backup` one the route falls back to. */
  const gatewayYaml = (): string =>
    buildGatewayYaml({
      upstream: primary.url,
      routes: [publicRoute('api', '/api', { fallbackUpstream: 'backup' })],
    }).replace(
      `      targets: [${JSON.stringify(primary.url)}]\n`,
      `      targets: [${JSON.stringify(primary.url)}]\n    backup:\n      targets: [${JSON.stringify(backup.url)}]\n`,
    );

  it('lists the reroutes an alert set on a running gateway, and lifting one sends the route back', async () => {
    deployment = await createTestDeployment(gatewayYaml());
    const gateway = await startGatewayInProcess(deployment.dir, deployment.env);
    try {
      const notified = await fetch(`${gateway.admin}/admin/gateway/alertmanager`, {
        method: 'POST',
        headers: { ...ADMIN_AUTH, 'content-type': 'application/json' },
        body: JSON.stringify({
          version: '4',
          status: 'firing',
          alerts: [
            {
              status: 'firing',
              labels: { alertname: 'ApiDown', gatehouse_action: 'reroute', route: 'api' },
              fingerprint: '0a1b2c3d',
            },
          ],
        }),
      });
      expect(notified.status).toBe(200);
      await fetch(`${gateway.url}/api/one`).then((res) => res.arrayBuffer());
      expect(backup.received).toContain('GET /api/one');

      const listed = await deployment.run(['reroutes', 'list', '--json']);
      expect(listed).toMatchObject({ code: 0, stderr: '' });
      expect((JSON.parse(listed.stdout) as { reroutes: RerouteJson[] }).reroutes).toEqual([
        expect.objectContaining({
          route: 'api',
          alertname: 'ApiDown',
          fingerprint: '0a1b2c3d',
          source: 'alertmanager',
        }),
      ]);
      expect((await deployment.run(['reroutes', 'list'])).stdout).toMatch(
        /^ROUTE\s+EXPIRES\s+ALERT\s+FINGERPRINT\napi\s+\S+\s+ApiDown\s+0a1b2c3d\n$/,
      );

      const removed = await deployment.run(['reroutes', 'remove', 'api']);
      expect(removed).toMatchObject({
        code: 0,
        stdout: 'removed the reroute of api; it goes to its upstream again\n',
      });
      expect((await deployment.run(['reroutes', 'list'])).stdout).toBe('no active reroutes\n');
      const back = await pollUntil(
        async () => {
          const before = primary.received.length;
          await fetch(`${gateway.url}/api/two`).then((res) => res.arrayBuffer());
          return primary.received.length > before;
        },
        (served) => served,
        RESYNC_DEADLINE_MS,
      );
      expect(back).toBe(true);
    } finally {
      await gateway.stop();
    }
  });

  it.each([
    {
      name: 'a route without reroute',
      argv: ['reroutes', 'remove', 'api'],
      code: 1,
      says: /no active reroute for api/,
    },
    { name: 'no route', argv: ['reroutes', 'remove'], code: 2, says: /route id is required/ },
    {
      name: 'setting one (alerts do that)',
      argv: ['reroutes', 'add', 'api'],
      code: 2,
      says: /unknown subcommand add/,
    },
  ])('refuses $name (exit $code)', async ({ argv, code, says }) => {
    deployment = await createTestDeployment(gatewayYaml());
    const result = await deployment.run(argv);
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(says);
    expect(result.stdout).toBe('');
  });
});

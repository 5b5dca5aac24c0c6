import { writeFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDeployment, TEST_ADMIN_TOKEN, type TestDeployment } from './helpers/cli.js';
import {
  ADMIN_AUTH,
  buildGatewayYaml,
  pollUntil,
  publicRoute,
  startGatewayInProcess,
  startUpstream,
  statusOf,
  type InProcessGateway,
  type RouteInput,
  type TestUpstream,
} from './helpers/gateway.js';
import { readAuditLog } from './helpers/audit.js';

describe('gatehouse gateway (in-process)', () => {
  let upstream: TestUpstream;
  let deployment: TestDeployment | undefined;
  let gateway: InProcessGateway | undefined;

  beforeAll(async () => {
    upstream = await startUpstream();
  });
  afterAll(async () => {
    await upstream.close();
  });
  afterEach(async () => {
    if (gateway !== undefined) await gateway.stop();
    gateway = undefined;
    await deployment?.remove();
    deployment = undefined;
  });

  const yaml = (routes: readonly RouteInput[]): string =>
    buildGatewayYaml({ upstream: upstream.url, routes });

  /** A deployment whose gateway serves `routes`, started in-process. */
  async function start(routes: readonly RouteInput[]): Promise<InProcessGateway> {
    deployment = await createTestDeployment(yaml(routes));
    gateway = await startGatewayInProcess(deployment.dir, deployment.env);
    return gateway;
  }

  const rewrite = (routes: readonly RouteInput[]): Promise<void> =>
    writeFile(deployment!.configFile, yaml(routes));

  it('proxies a public route to the upstream and answers 404 for what no route matches', async () => {
    const gw = await start([publicRoute('public', '/api')]);
    const response = await fetch(`${gw.url}/api/hello?x=1`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ method: 'GET', path: '/api/hello?x=1' });
    expect(upstream.received).toContain('GET /api/hello?x=1');

    const unmatched = await fetch(`${gw.url}/elsewhere`);
    expect(unmatched.status).toBe(404);
    expect(unmatched.headers.get('content-type')).toBe('application/problem+json');
    expect(upstream.received).not.toContain('GET /elsewhere');
    expect(gw.stderr()).toMatch(/admin API on http:\/\/127\.0\.0\.1:\d+\/admin\/gateway/);
  });

  it('serves probes and metrics on the admin listener, and the admin API only with the admin token', async () => {
    const gw = await start([publicRoute('public', '/api')]);
    expect(await statusOf(`${gw.url}/api/counted`)).toBe(200);

    expect(await (await fetch(`${gw.admin}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${gw.admin}/readyz`)).json()).toEqual({ status: 'ready' });
    const metrics = await (await fetch(`${gw.admin}/metrics`)).text();
    expect(metrics).toMatch(/gatehouse_requests_total\{[^}]*route="public"[^}]*\} 1/);

    const refusals: Array<{ name: string; headers: Record<string, string>; challenge: RegExp }> = [
      { name: 'no credential', headers: {}, challenge: /^Bearer realm="gatehouse-admin"$/ },
      {
        name: 'a wrong token',
        headers: { authorization: `Bearer ${'x'.repeat(TEST_ADMIN_TOKEN.length)}` },
        challenge: /error="invalid_token"/,
      },
      {
        name: 'the token in Basic',
        headers: { authorization: `Basic ${Buffer.from(`admin:${TEST_ADMIN_TOKEN}`).toString('base64')}` },
        challenge: /error="invalid_token"/,
      },
    ];
    for (const refusal of refusals) {
      for (const path of ['routes', 'health', 'bans']) {
        const response = await fetch(`${gw.admin}/admin/gateway/${path}`, { headers: refusal.headers });
        expect({ refusal: refusal.name, path, status: response.status }).toEqual({
          refusal: refusal.name,
          path,
          status: 401,
        });
        expect(response.headers.get('www-authenticate')).toMatch(refusal.challenge);
      }
    }
    const reload = await fetch(`${gw.admin}/admin/gateway/reload`, { method: 'POST' });
    expect(reload.status).toBe(401);

    const routes = await fetch(`${gw.admin}/admin/gateway/routes`, { headers: ADMIN_AUTH });
    expect(routes.status).toBe(200);
    expect(routes.headers.get('cache-control')).toBe('no-store');
    expect(await routes.json()).toEqual({
      routes: [
        {
          id: 'public',
          match: { pathPrefix: '/api' },
          upstream: 'echo',
          auth: 'none',
          scopes: {},
          openapi: false,
          rateLimits: [],
        },
      ],
    });
    const health = await fetch(`${gw.admin}/admin/gateway/health`, { headers: ADMIN_AUTH });
    expect(await health.json()).toMatchObject({
      ready: true,
      draining: false,
      upstreams: [{ id: 'echo', targets: [{ target: upstream.url, healthy: true, circuit: 'closed' }] }],
    });
    // The admin API is not reachable through the public listener.
    expect(await statusOf(`${gw.url}/admin/gateway/routes`, { headers: ADMIN_AUTH })).toBe(404);
    expect(gw.stdout()).not.toContain(TEST_ADMIN_TOKEN);
  });

  it('reloads the edited file through the admin API; an invalid edit is refused (422) and the old routes stay', async () => {
    const gw = await start([publicRoute('public', '/api')]);
    expect(await statusOf(`${gw.url}/v2/x`)).toBe(404);

    await rewrite([publicRoute('public-v2', '/v2')]);
    const reloaded = await fetch(`${gw.admin}/admin/gateway/reload`, { method: 'POST', headers: ADMIN_AUTH });
    expect(reloaded.status).toBe(200);
    expect(await reloaded.json()).toEqual({ status: 'reloaded', routes: 1 });
    expect(await statusOf(`${gw.url}/v2/x`)).toBe(200);
    expect(await statusOf(`${gw.url}/api/x`)).toBe(404);

    // A route without `auth` (deny by default) and a route with an invalid id: both listed.
    await writeFile(
      deployment!.configFile,
      yaml([
        { id: 'no-auth', match: { pathPrefix: '/open' }, upstream: 'echo' },
        publicRoute('Bad Id', '/bad'),
      ]),
    );
    const refused = await fetch(`${gw.admin}/admin/gateway/reload`, { method: 'POST', headers: ADMIN_AUTH });
    expect(refused.status).toBe(422);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = (await refused.json()) as { status: number; detail: string };
    expect(problem.status).toBe(422);
    expect(problem.detail).toMatch(/gateway\.routes\.0\.auth/);
    expect(problem.detail).toMatch(/gateway\.routes\.1\.id/);

    // A route to an upstream that does not exist (a cross-reference check of the whole section).
    await rewrite([publicRoute('lost', '/lost', { upstream: 'nowhere' })]);
    const dangling = await fetch(`${gw.admin}/admin/gateway/reload`, { method: 'POST', headers: ADMIN_AUTH });
    expect(dangling.status).toBe(422);
    expect(((await dangling.json()) as { detail: string }).detail).toMatch(/unknown upstream nowhere/);

    await writeFile(deployment!.configFile, 'gateway: [not: a: mapping');
    const unparsable = await fetch(`${gw.admin}/admin/gateway/reload`, {
      method: 'POST',
      headers: ADMIN_AUTH,
    });
    expect(unparsable.status).toBe(422);

    // The configuration in force is the last good one.
    expect(await statusOf(`${gw.url}/v2/x`)).toBe(200);
    expect(await statusOf(`${gw.url}/open/x`)).toBe(404);
    const routes = await fetch(`${gw.admin}/admin/gateway/routes`, { headers: ADMIN_AUTH });
    expect(((await routes.json()) as { routes: { id: string }[] }).routes.map((r) => r.id)).toEqual([
      'public-v2',
    ]);

    // Every reload, applied or refused, is in the audit log of the data dir.
    expect((await gw.stop()).code).toBe(0);
    gateway = undefined;
    const audit = (await readAuditLog(deployment!.dataDir))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { action: string; outcome: string })
      .filter((event) => event.action === 'gateway.config.reload')
      .map((event) => event.outcome);
    expect(audit).toEqual(['success', 'failure', 'failure', 'failure']);
  });

  it('reloads when the listener registered through io.onReload fires (SIGHUP), and keeps the old config on a bad edit', async () => {
    const gw = await start([publicRoute('public', '/api')]);
    expect(gw.reloadListening()).toBe(true);

    await rewrite([publicRoute('public', '/api'), publicRoute('added', '/added')]);
    gw.reload();
    expect(
      await pollUntil(
        () => statusOf(`${gw.url}/added/x`),
        (s) => s === 200,
        5000,
      ),
    ).toBe(200);

    await writeFile(
      deployment!.configFile,
      yaml([{ id: 'no-auth', match: { pathPrefix: '/open' }, upstream: 'echo' }]),
    );
    gw.reload();
    const refusedLine = await pollUntil(
      () => Promise.resolve(gw.stdout().includes('reload refused')),
      (seen) => seen,
      5000,
    );
    expect(refusedLine).toBe(true);
    expect(await statusOf(`${gw.url}/added/x`)).toBe(200);
    expect(await statusOf(`${gw.url}/open/x`)).toBe(404);

    const stopped = await gw.stop();
    gateway = undefined;
    expect(stopped.code).toBe(0);
    // The listener is removed on the way out: a late SIGHUP reloads nothing.
    expect(gw.reloadListening()).toBe(false);
  });

  it('stops cleanly when its signal is aborted (exit 0): both listeners closed, a request in flight finished', async () => {
    const gw = await start([publicRoute('public', '/api')]);
    const inFlight = fetch(`${gw.url}/api/slow?delay=300`);
    await pollUntil(
      () => Promise.resolve(upstream.received.includes('GET /api/slow?delay=300')),
      (seen) => seen,
      5000,
      5,
    );
    const stopping = gw.stop();
    gateway = undefined;
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ path: '/api/slow?delay=300' });
    const stopped = await stopping;
    expect(stopped.code).toBe(0);
    expect(stopped.stderr).toContain('gatehouse gateway: stopped');
    await expect(fetch(`${gw.url}/api/x`)).rejects.toThrow();
    await expect(fetch(`${gw.admin}/healthz`)).rejects.toThrow();
    const messages = stopped.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { msg?: string }).msg);
    expect(messages).toEqual(expect.arrayContaining(['gateway started', 'shutting down']));
  });

  it('refuses to start without a gateway section (exit 1, a clear message, nothing listening)', async () => {
    deployment = await createTestDeployment();
    const result = await deployment.run(['gateway', '--config', 'gatehouse.yaml']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/gatehouse gateway: .*gatehouse\.yaml has no gateway section/);
    expect(result.stderr).not.toContain('listening on');
  });

  it('refuses to start on an invalid gateway section (exit 1), listing every problem', async () => {
    deployment = await createTestDeployment(
      yaml([
        { id: 'no-auth', match: { pathPrefix: '/open' }, upstream: 'echo' },
        publicRoute('Bad Id', '/bad'),
      ]),
    );
    const result = await deployment.run(['gateway', '--config', 'gatehouse.yaml']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/gateway\.routes\.0\.auth/);
    expect(result.stderr).toMatch(/gateway\.routes\.1\.id/);
    expect(result.stderr).not.toContain('listening on');
  });
});

describe('gatehouse gateway: unsafe settings', () => {
  let deployment: TestDeployment | undefined;
  afterEach(async () => {
    await deployment?.remove();
    deployment = undefined;
  });

  it.each([
    [
      'gateway.auth.issuer',
      { auth: { issuer: 'http://auth.example.com', clientId: 'gw', clientSecret: 's' } },
      'high',
    ],
    ['gateway.upstreams.', undefined, 'warning'],
  ])(
    '%s over plain HTTP off the machine: warned, and refused in production when high',
    async (field, extra, severity) => {
      const routes = [{ id: 'open', match: { pathPrefix: '/' }, upstream: 'echo', auth: 'none' }];
      const file = buildGatewayYaml({
        upstream: extra === undefined ? 'http://10.1.2.3:7001' : 'http://127.0.0.1:7001',
        routes,
        ...(extra === undefined ? {} : { gateway: extra }),
      });
      deployment = await createTestDeployment(file);
      // Already aborted: a gateway that does start stops at once.
      const production = await deployment.run(['gateway', '--config', 'gatehouse.yaml'], {
        env: { NODE_ENV: 'production' },
        signal: AbortSignal.abort(),
      });
      if (severity === 'high') {
        expect(production.code).toBe(1);
        expect(production.stderr).toContain('refusing to start in production');
        expect(production.stderr).toContain(field);
      } else {
        expect(production.code).toBe(0);
        expect(production.stderr).toMatch(new RegExp(`WARNING: ${field.replace('.', '\\.')}`));
      }
    },
  );
});

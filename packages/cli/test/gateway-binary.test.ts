import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireService, serviceUrl } from '@gatehouse/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ADMIN_TOKEN, TEST_KEK_B64 } from './helpers/cli.js';
import { builtOrSkip, distOf, startBinary, type Started } from './helpers/binary.js';
import {
  buildGatewayYaml,
  parseGatewayUrls,
  pollUntil,
  publicRoute,
  startUpstream,
  statusOf,
  type RouteInput,
  type TestUpstream,
} from './helpers/gateway.js';

/** `gatehouse gateway --config gatehouse.yaml` in `dir`; resolves once both listeners are announced. */
function startGateway(dir: string): Promise<Started> {
  return startBinary(['gateway', '--config', 'gatehouse.yaml'], dir, parseGatewayUrls);
}

async function stopGateway(started: Started | undefined): Promise<void> {
  if (started === undefined || started.child.exitCode !== null || started.child.signalCode !== null) return;
  started.child.kill('SIGKILL');
  await started.exit;
}

const built = builtOrSkip('gatehouse gateway binary', distOf(['auth-server', 'core', 'guard', 'gateway']));
const redis = await requireService('redis', 'gateway rate limit across two processes sharing Redis');

describe.skipIf(!built)('gatehouse gateway binary (node packages/cli/bin/gatehouse.js)', () => {
  let upstream: TestUpstream;
  const dirs: string[] = [];
  const running: Started[] = [];

  beforeAll(async () => {
    upstream = await startUpstream();
  });
  afterAll(async () => {
    await upstream.close();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map(stopGateway));
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  async function deploy(text: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-gw-bin-'));
    dirs.push(dir);
    await writeFile(join(dir, 'gatehouse.yaml'), text);
    return dir;
  }

  async function start(dir: string): Promise<Started> {
    const started = await startGateway(dir);
    running.push(started);
    return started;
  }

  it('SIGHUP reloads the edited file; SIGTERM drains the request in flight and exits 0', async () => {
    const yaml = (routes: readonly RouteInput[]): string =>
      buildGatewayYaml({ upstream: upstream.url, routes });
    const dir = await deploy(yaml([publicRoute('v1', '/v1')]));
    const gateway = await start(dir);
    expect(await statusOf(`${gateway.url}/v1/x`)).toBe(200);
    expect(await statusOf(`${gateway.url}/v2/x`)).toBe(404);

    await writeFile(join(dir, 'gatehouse.yaml'), yaml([publicRoute('v2', '/v2')]));
    gateway.child.kill('SIGHUP');
    expect(
      await pollUntil(
        () => statusOf(`${gateway.url}/v2/x`),
        (s) => s === 200,
        5000,
      ),
    ).toBe(200);
    expect(await statusOf(`${gateway.url}/v1/x`)).toBe(404);

    // A broken edit and SIGHUP: refused, logged, the process keeps serving the last good routes.
    await writeFile(
      join(dir, 'gatehouse.yaml'),
      yaml([{ id: 'open', match: { pathPrefix: '/open' }, upstream: 'echo' }]),
    );
    gateway.child.kill('SIGHUP');
    await pollUntil(
      () => Promise.resolve(gateway.stdout().includes('reload refused')),
      (seen) => seen,
      5000,
    );
    expect(gateway.stdout()).toContain('reload refused');
    expect(await statusOf(`${gateway.url}/v2/x`)).toBe(200);
    expect(gateway.child.exitCode).toBeNull();

    const inFlight = fetch(`${gateway.url}/v2/slow?delay=400`);
    await pollUntil(
      () => Promise.resolve(upstream.received.includes('GET /v2/slow?delay=400')),
      (seen) => seen,
      5000,
      5,
    );
    gateway.child.kill('SIGTERM');
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ path: '/v2/slow?delay=400' });
    expect(await gateway.exit).toEqual({ code: 0, signal: null });
    expect(gateway.stderr()).toContain('gatehouse gateway: stopped');
    await expect(fetch(`${gateway.url}/v2/x`)).rejects.toThrow();

    const messages = gateway
      .stdout()
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { msg?: string }).msg);
    expect(messages).toEqual(
      expect.arrayContaining(['gateway started', 'configuration reloaded', 'shutting down']),
    );
    expect(gateway.stdout()).not.toContain(TEST_ADMIN_TOKEN);
    expect(gateway.stdout()).not.toContain(TEST_KEK_B64);
  });

  describe.skipIf(!redis.available)('rate limit across two gateway processes sharing Redis', () => {
    /**
     * GCRA (the gateway's memory and Redis stores compute the same): emission interval T = window / limit and
     * capacity = burst · T. A request at t passes when max(TAT, t) + T − t ≤ capacity; the bucket
     * starts full, so a saturating load gets `burst` requests at once and then one per T. Between
     * the first request (t0) and the last (t1) it therefore allows exactly
     *     burst + floor((t1 − t0) / T)
     * whoever sends them, as long as both processes count in the same Redis key. Two processes
     * counting separately would allow about twice that.
     */
    const LIMIT = 200;
    const WINDOW_SEC = 2;
    const BURST = LIMIT;
    const RUN_MS = 3000;
    const CLIENTS = 20;
    const WARM_UP_REQUESTS = 25;

    it(`${CLIENTS} clients on two gateways for ${RUN_MS / 1000} s: allowed within 5% of the GCRA budget of one shared key`, async () => {
      // A unique route and limit id per run: the Redis key is `gatehouse:rl:{<limit>|route=<route>}`.
      const suffix = randomBytes(5).toString('hex');
      const limitId = `shared-${suffix}`;
      const text = buildGatewayYaml({
        upstream: upstream.url,
        logLevel: 'warn',
        routes: [
          publicRoute(`rl-${suffix}`, '/api', {
            rateLimits: [
              { id: limitId, algorithm: 'gcra', limit: LIMIT, windowSec: WINDOW_SEC, key: ['route'] },
            ],
          }),
          // Same pipeline and store on a limit that never refuses: warms both processes first.
          publicRoute(`warm-${suffix}`, '/warm', {
            rateLimits: [{ id: `warm-${suffix}`, limit: 1_000_000, windowSec: 1, key: ['route'] }],
          }),
        ],
        // closed: a Redis failure is a 503, never silently counted per process.
        gateway: { rateLimit: { store: 'redis', onStoreFailure: 'closed' } },
        extra: `sharedState:\n  url: ${serviceUrl('redis')}`,
      });
      // Each gateway on its own data dir (SQLite); Redis is all they share.
      const [a, b] = await Promise.all([start(await deploy(text)), start(await deploy(text))]);
      const gateways = [a, b];
      // The formula holds for a saturating load, so the run starts on warm processes (JIT, open
      // keep-alive connections, the Lua script loaded in Redis), not on a slow first second.
      await Promise.all(
        Array.from({ length: CLIENTS }, async (_, index) => {
          for (let i = 0; i < WARM_UP_REQUESTS; i += 1) {
            expect(await statusOf(`${gateways[index % 2]!.url}/warm/item`)).toBe(200);
          }
        }),
      );

      const counts = gateways.map(() => ({ allowed: 0, limited: 0, other: [] as number[] }));
      let policy: string | null = null;
      let retryAfter: string | null = null;
      let lastSent = 0;
      const t0 = Date.now();
      const deadline = t0 + RUN_MS;
      const client = async (index: number): Promise<void> => {
        const target = index % 2;
        const url = `${gateways[target]!.url}/api/item`;
        const count = counts[target]!;
        while (Date.now() < deadline) {
          lastSent = Math.max(lastSent, Date.now());
          const response = await fetch(url);
          await response.arrayBuffer();
          if (response.status === 200) count.allowed += 1;
          else if (response.status === 429) {
            count.limited += 1;
            policy ??= response.headers.get('ratelimit-policy');
            retryAfter ??= response.headers.get('retry-after');
          } else count.other.push(response.status);
        }
      };
      await Promise.all(Array.from({ length: CLIENTS }, (_, index) => client(index)));

      const intervalMs = (WINDOW_SEC * 1000) / LIMIT;
      const expected = BURST + Math.floor((lastSent - t0) / intervalMs);
      const allowed = counts[0]!.allowed + counts[1]!.allowed;
      const summary = { expected, allowed, a: counts[0], b: counts[1] };
      expect(
        counts.flatMap((count) => count.other),
        JSON.stringify(summary),
      ).toEqual([]);
      // The load saturated the limit on both gateways, and both drew on the one budget.
      for (const count of counts) {
        expect(count.allowed, JSON.stringify(summary)).toBeGreaterThan(0);
        expect(count.limited, JSON.stringify(summary)).toBeGreaterThan(0);
      }
      expect(Math.abs(allowed - expected), JSON.stringify(summary)).toBeLessThanOrEqual(expected * 0.05);
      expect(policy).toBe(`"${limitId}";q=${LIMIT};w=${WINDOW_SEC}`);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    });
  });
});

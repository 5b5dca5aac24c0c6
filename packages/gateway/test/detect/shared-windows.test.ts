import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemorySharedState, type SharedState } from '@gatehouse/core';
import { relayTargetOf, requireService, serviceUrl, startTcpRelay, type TcpRelay } from '@gatehouse/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRedisWindowKey } from '../../src/detect/redis-window-store.js';
import {
  ALL_DETECTORS_OFF,
  Clock,
  metricValue,
  startDetectStack,
  startScriptedUpstream,
  type DetectStack,
  type ScriptedUpstream,
} from './support.js';

/**
 * Issue 7: two gateway instances behind a load balancer, the attacker's requests split evenly
 * between them. With `detection.store: redis` the detectors count together and act at the
 * configured threshold; with memory windows each instance sees half and nothing happens.
 * Both instances share a database and a shared state, as a deployment does: a ban decided on one
 * is enforced by both.
 */

const redis = await requireService('redis', 'gateway detectors shared through Redis');

const THRESHOLD = 10;
const RUN = 6;
const routes = [
  {
    id: 'items',
    match: { pathPrefix: '/items' },
    upstream: 'app',
    auth: 'none' as const,
    openapi: 'items-api.yaml',
  },
  { id: 'objects', match: { pathPrefix: '/objects' }, upstream: 'app', auth: 'none' as const },
];

function detection(store: 'memory' | 'redis') {
  return {
    ...ALL_DETECTORS_OFF,
    store,
    enumeration: {
      enabled: true,
      action: 'ban' as const,
      distinctIds: THRESHOLD,
      sequentialRun: RUN,
      windowSec: 60,
    },
    fuzzing: { enabled: true, action: 'ban' as const, threshold: THRESHOLD, windowSec: 60 },
    ban: { banSec: 120 },
  };
}

interface Pair {
  readonly a: DetectStack;
  readonly b: DetectStack;
  /** The instance the load balancer sends request `i` to (round robin). */
  at(i: number): DetectStack;
  bannedAnywhere(ip: string): boolean;
  bannedEverywhere(ip: string): boolean;
  /** Detections of `detector` on both instances together (`gatehouse_gateway_detections_total`). */
  detections(detector: 'enumeration' | 'fuzzing'): number;
  detected(ip: string): { details: Record<string, unknown> | undefined }[];
  close(): Promise<void>;
}

async function startPair(
  store: 'memory' | 'redis',
  options: { redisUrl?: string; redisPrefix?: string } = {},
): Promise<Pair> {
  const clock = new Clock();
  const upstream: ScriptedUpstream = await startScriptedUpstream();
  // A service with object-level checks: items are never the caller's; objects are readable.
  upstream.answer = (path) => (path.startsWith('/items/') ? 403 : 200);
  const state: SharedState = createMemorySharedState();
  const sqliteFile = join(mkdtempSync(join(tmpdir(), 'gatehouse-shared-windows-')), 'gateway.db');
  const start = (): Promise<DetectStack> =>
    startDetectStack(
      { detection: detection(store), alerts: { enabled: false }, routes },
      { now: clock.now, upstream, state, sqliteFile, ...options },
    );
  const a = await start();
  const b = await start();
  const both = [a, b];
  return {
    a,
    b,
    at: (i) => both[i % 2]!,
    bannedAnywhere: (ip) => both.some((s) => s.gw.gateway.bans.isBanned(ip) !== undefined),
    bannedEverywhere: (ip) => both.every((s) => s.gw.gateway.bans.isBanned(ip) !== undefined),
    detections: (detector) =>
      both.reduce(
        (sum, s) =>
          sum +
          (metricValue(s, `gatehouse_gateway_detections_total{detector="${detector}",action="ban"}`) ?? 0),
        0,
      ),
    detected: (ip) =>
      both
        .flatMap((s) => s.audited('gateway.abuse.detected'))
        .filter((event) => event.sourceIp === ip)
        .map((event) => ({ details: event.details })),
    async close() {
      await Promise.all(both.map((s) => s.close()));
      await upstream.close();
      await state.close();
    },
  };
}

/** Sends `count` requests round robin over the pair, each expected to get `status`. */
async function split(
  pair: Pair,
  count: number,
  path: (i: number) => string,
  ip: string,
  status: number,
  from = 0,
): Promise<void> {
  for (let i = from; i < from + count; i++)
    expect((await pair.at(i).send(path(i), { ip })).status).toBe(status);
}

const deniedItem = (i: number): string => `/items/${String((i + 1) * 37)}`; // scattered: not a walk
const probe = (i: number): string => `/no-such-route/${String(i)}`; // 404 at the gateway

describe.skipIf(!redis.available)('detection.store: redis — two gateways count together', () => {
  const prefix = `test:${randomBytes(6).toString('hex')}:`;
  let pair: Pair;
  let inspect: Redis;

  beforeAll(async () => {
    inspect = new Redis(serviceUrl('redis'));
    pair = await startPair('redis', { redisUrl: serviceUrl('redis'), redisPrefix: prefix });
  });
  afterAll(async () => {
    await pair.close();
    const keys = await inspect.keys(`${prefix}*`);
    if (keys.length > 0) await inspect.del(...keys);
    await inspect.quit();
  });

  it('an enumeration split evenly across the two is banned at the threshold, on both', async () => {
    const ip = '203.0.113.41';
    const key = buildRedisWindowKey(prefix, 'enumeration', 'ids', ip);
    await split(pair, THRESHOLD - 1, deniedItem, ip, 403);
    // Both instances' ids are in the one window (stored as digests), below the threshold.
    await expect.poll(() => inspect.zcard(key)).toBe(THRESHOLD - 1);
    expect(pair.bannedAnywhere(ip)).toBe(false);
    expect(pair.detections('enumeration')).toBe(0);

    await split(pair, 1, deniedItem, ip, 403, THRESHOLD - 1);
    await expect.poll(() => pair.bannedEverywhere(ip)).toBe(true);
    // Found once, by whichever instance counted the threshold-th id.
    expect(pair.detected(ip)).toEqual([
      {
        details: expect.objectContaining({
          trigger: 'distinct_ids',
          count: THRESHOLD,
          threshold: THRESHOLD,
          banned: 1,
        }) as unknown,
      },
    ]);
    expect(pair.detections('enumeration')).toBe(1);
    expect(await inspect.exists(key)).toBe(0);
    for (const stack of [pair.a, pair.b])
      expect(await stack.send('/items/1', { ip })).toEqual({ status: 403, code: 'ERR_GATEWAY_BANNED' });
  });

  it('fuzzing split evenly across the two is banned at the threshold', async () => {
    const ip = '203.0.113.42';
    const key = buildRedisWindowKey(prefix, 'fuzzing', 'errors', ip);
    const events = async (): Promise<number> =>
      (await inspect.hvals(key)).reduce((sum, value) => sum + Number(value), 0);
    await split(pair, THRESHOLD - 1, probe, ip, 404);
    await expect.poll(events).toBe(THRESHOLD - 1);
    expect(pair.bannedAnywhere(ip)).toBe(false);

    await split(pair, 1, probe, ip, 404, THRESHOLD - 1);
    await expect.poll(() => pair.bannedEverywhere(ip)).toBe(true);
    expect(pair.detected(ip)).toEqual([
      { details: expect.objectContaining({ trigger: 'errors', count: THRESHOLD, banned: 1 }) as unknown },
    ]);
    expect(pair.detections('fuzzing')).toBe(1);
  });

  it('a walk over consecutive ids, round robin, is one walk', async () => {
    const ip = '203.0.113.43';
    const key = buildRedisWindowKey(prefix, 'enumeration', 'walk', ip);
    // One request at a time, as a walking client sends them: each step lands before the next.
    for (let i = 0; i < RUN - 1; i++) {
      expect((await pair.at(i).send(`/objects/${String(7000 + i)}`, { ip })).status).toBe(200);
      await expect.poll(() => inspect.hget(key, 'run')).toBe(String(i + 1));
    }
    expect(pair.bannedAnywhere(ip)).toBe(false);
    expect((await pair.at(RUN - 1).send(`/objects/${String(7000 + RUN - 1)}`, { ip })).status).toBe(200);
    await expect.poll(() => pair.bannedEverywhere(ip)).toBe(true);
    expect(pair.detected(ip)).toEqual([
      { details: expect.objectContaining({ trigger: 'sequential_ids', count: RUN }) as unknown },
    ]);
  });
});

describe('detection.store: memory — each gateway counts its half', () => {
  let pair: Pair;
  beforeAll(async () => {
    pair = await startPair('memory');
  });
  afterAll(() => pair.close());

  it('the same split attacks, at almost twice the thresholds, are found by neither instance', async () => {
    await split(pair, 2 * (THRESHOLD - 1), deniedItem, '203.0.113.51', 403);
    await split(pair, 2 * (THRESHOLD - 1), probe, '203.0.113.52', 404);
    // Round robin, a walk reaches each instance as every other id: steps of 2, no walk at all.
    await split(pair, 2 * RUN, (i) => `/objects/${String(7000 + i)}`, '203.0.113.53', 200);
    // Memory windows report synchronously as the answer closes: nothing was found.
    expect(pair.detections('enumeration')).toBe(0);
    expect(pair.detections('fuzzing')).toBe(0);
    for (const ip of ['203.0.113.51', '203.0.113.52', '203.0.113.53']) {
      expect(pair.detected(ip)).toEqual([]);
      expect(pair.bannedAnywhere(ip)).toBe(false);
    }
  });
});

describe.skipIf(!redis.available)('detection.store: redis — Redis cut and restored', () => {
  const prefix = `test:${randomBytes(6).toString('hex')}:`;
  let relay: TcpRelay;
  let pair: Pair;
  let inspect: Redis;

  const logged = (stack: DetectStack, text: string): number =>
    stack.gw.logs.filter((line) => String(line['msg']).includes(text)).length;

  beforeAll(async () => {
    inspect = new Redis(serviceUrl('redis'));
    relay = await startTcpRelay([relayTargetOf(serviceUrl('redis'), 6379)]);
    pair = await startPair('redis', { redisUrl: relay.url('redis'), redisPrefix: prefix });
  });
  afterAll(async () => {
    await pair.close();
    await relay.close();
    const keys = await inspect.keys(`${prefix}*`);
    if (keys.length > 0) await inspect.del(...keys);
    await inspect.quit();
  });

  it('requests are still served, detectors count locally, and count together again once Redis is back', async () => {
    await relay.cut();

    // Served as usual: the upstream's 403s and 200s reach the client.
    expect((await pair.b.send('/objects/1', { ip: '203.0.113.60' })).status).toBe(200);
    const local = '203.0.113.61';
    for (let i = 0; i < THRESHOLD; i++)
      expect((await pair.a.send(deniedItem(i), { ip: local })).status).toBe(403);
    // Instance a's own window reaches the threshold: it still bans.
    await expect.poll(() => pair.bannedEverywhere(local)).toBe(true);
    expect(
      metricValue(pair.a, 'gatehouse_gateway_detection_fallbacks_total{detector="enumeration"}'),
    ).toBeGreaterThanOrEqual(THRESHOLD);
    // Logged once per outage, however many requests fell back.
    expect(logged(pair.a, 'detection window store (Redis) failed')).toBe(1);
    // Meanwhile a split attack is counted per instance again: below the threshold on each.
    const split1 = '203.0.113.62';
    await split(pair, 2 * (THRESHOLD - 1), deniedItem, split1, 403);
    expect(pair.detected(split1)).toEqual([]);
    expect(pair.bannedAnywhere(split1)).toBe(false);

    await relay.restore();
    // Observations keep trying Redis; the first that reaches it ends the outage on that instance.
    let n = 0;
    await expect
      .poll(
        async () => {
          for (const stack of [pair.a, pair.b])
            await stack.send('/items/5', { ip: `198.18.0.${String(++n % 250)}` });
          return logged(pair.a, 'answers again') + logged(pair.b, 'answers again');
        },
        { timeout: 15_000, interval: 200 },
      )
      .toBe(2);

    const split2 = '203.0.113.63';
    await split(pair, THRESHOLD - 1, deniedItem, split2, 403);
    await expect
      .poll(() => inspect.zcard(buildRedisWindowKey(prefix, 'enumeration', 'ids', split2)))
      .toBe(THRESHOLD - 1);
    expect(pair.bannedAnywhere(split2)).toBe(false);
    await split(pair, 1, deniedItem, split2, 403, THRESHOLD - 1);
    await expect.poll(() => pair.bannedEverywhere(split2)).toBe(true);
    expect(pair.detected(split2)).toEqual([
      { details: expect.objectContaining({ trigger: 'distinct_ids', count: THRESHOLD }) as unknown },
    ]);
  });
});

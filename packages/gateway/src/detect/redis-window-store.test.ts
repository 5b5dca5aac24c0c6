import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@gatehouse/core';
import { relayTargetOf, requireService, serviceUrl, startTcpRelay, type TcpRelay } from '@gatehouse/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryWindowStore } from './memory-window-store.js';
import { buildRedisWindowKey, createRedisWindowStore } from './redis-window-store.js';
import type { DetectorId } from './types.js';
import type { Crossing, DetectorWindows, WindowStore } from './window-store.js';

const redis = await requireService('redis', 'gateway detection windows in Redis');

const T0 = Date.UTC(2026, 0, 1);
const WINDOW_MS = 60_000;

/** A logger whose lines a test reads back. */
function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: createLogger({ component: 'test', level: 'info', destination }), lines };
}

const silent = createLogger({ component: 'test', level: 'silent' });

function scopeOf(
  store: WindowStore,
  detector: DetectorId = 'enumeration',
  onFallback?: () => void,
): DetectorWindows {
  return store.scope({
    detector,
    maxKeys: 1000,
    maxValues: 10_000,
    ...(onFallback === undefined ? {} : { onFallback }),
    onError: (err) => {
      throw err;
    },
  });
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe.skipIf(!redis.available)('Redis detector windows', () => {
  let inspect: Redis;
  const prefixes: string[] = [];
  const stores: WindowStore[] = [];

  /** Two gateway instances' stores sharing one Redis under a prefix of their own. */
  async function instances(): Promise<{ prefix: string; a: WindowStore; b: WindowStore }> {
    const prefix = `test:${randomBytes(6).toString('hex')}:`;
    prefixes.push(prefix);
    const [a, b] = await Promise.all([
      createRedisWindowStore({ url: serviceUrl('redis'), prefix, logger: silent }),
      createRedisWindowStore({ url: serviceUrl('redis'), prefix, logger: silent }),
    ]);
    stores.push(a, b);
    return { prefix, a, b };
  }

  const keysUnder = (prefix: string): Promise<string[]> => inspect.keys(`${prefix}*`);

  beforeAll(() => {
    inspect = new Redis(serviceUrl('redis'));
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });
  afterAll(async () => {
    for (const prefix of prefixes) {
      const keys = await keysUnder(prefix);
      if (keys.length > 0) await inspect.del(...keys);
    }
    await inspect.quit();
  });

  describe('distinct values', () => {
    it('two instances count together; the one reaching the threshold gets the crossing, once', async () => {
      const { prefix, a, b } = await instances();
      const spec = { name: 'ids', windowMs: WINDOW_MS, limit: 5, threshold: 5, values: 'digest' } as const;
      const onA = scopeOf(a).distinct(spec);
      const onB = scopeOf(b).distinct(spec);
      const answers: (number | Crossing)[] = [];
      for (let i = 1; i <= 5; i++)
        answers.push(await (i % 2 === 1 ? onA : onB).add('alice', `items ${String(i)}`, T0 + i));
      expect(answers).toEqual([1, 2, 3, 4, { count: 5, values: [] }]);
      // The crossing emptied the key: nothing left in Redis, the next id starts afresh.
      expect(await keysUnder(prefix)).toEqual([]);
      expect(await onB.add('alice', 'items 6', T0 + 6)).toBe(1);
    });

    it('of many instances adding at once, exactly one gets the crossing', async () => {
      const { a, b } = await instances();
      const spec = { name: 'ids', windowMs: WINDOW_MS, limit: 10, threshold: 10, values: 'digest' } as const;
      const windows = [scopeOf(a).distinct(spec), scopeOf(b).distinct(spec)];
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          Promise.resolve(windows[i % 2]!.add('bob', `id ${String(i)}`, T0)),
        ),
      );
      const crossings = answers.filter((answer) => typeof answer !== 'number');
      expect(crossings).toEqual([{ count: 10, values: [] }]);
      expect(
        answers.filter((answer): answer is number => typeof answer === 'number').sort((x, y) => x - y),
      ).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });

    it('a value seen again on another instance counts once; values leave the window; keys expire', async () => {
      const { prefix, a, b } = await instances();
      const spec = { name: 'ids', windowMs: WINDOW_MS, limit: 30, threshold: 30, values: 'digest' } as const;
      const onA = scopeOf(a).distinct(spec);
      const onB = scopeOf(b).distinct(spec);
      expect(await onA.add('carol', 'x', T0)).toBe(1);
      expect(await onB.add('carol', 'x', T0 + 1000)).toBe(1);
      expect(await onB.add('carol', 'y', T0 + 2000)).toBe(2);
      // x was last seen at T0 + 1000: gone one window later, y stays.
      expect(await onA.add('carol', 'z', T0 + 1000 + WINDOW_MS)).toBe(2);
      const [key] = await keysUnder(prefix);
      expect(key).toBe(buildRedisWindowKey(prefix, 'enumeration', 'ids', 'carol'));
      const ttl = await inspect.pttl(key!);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(WINDOW_MS);
    });

    it('stores digests of client-chosen keys and values: fixed length, no client text in Redis', async () => {
      const { prefix, a } = await instances();
      const window = scopeOf(a, 'bulk-scraping').distinct({
        name: 'paths',
        windowMs: WINDOW_MS,
        limit: 100,
        values: 'digest',
      });
      const subject = `token:${'s'.repeat(4000)}`;
      for (let i = 0; i < 3; i++) await window.add(subject, `/api/${'p'.repeat(8000)}/${String(i)}`, T0 + i);
      const keys = await keysUnder(prefix);
      expect(keys).toEqual([buildRedisWindowKey(prefix, 'bulk-scraping', 'paths', subject)]);
      expect(keys[0]).toHaveLength(`${prefix}detect:bulk-scraping:paths:`.length + 22);
      const members = await inspect.zrange(keys[0]!, 0, -1);
      expect(members).toHaveLength(3);
      for (const member of members) expect(member).toMatch(/^[A-Za-z0-9_-]{22}$/);
    });

    it('keeps client addresses as they are and names them in the crossing, oldest first', async () => {
      const { a, b } = await instances();
      const spec = {
        name: 'ips',
        windowMs: WINDOW_MS,
        limit: 3,
        threshold: 3,
        values: 'plain',
        keepValues: true,
      } as const;
      const onA = scopeOf(a, 'rate-limit-evasion').distinct(spec);
      const onB = scopeOf(b, 'rate-limit-evasion').distinct(spec);
      expect(await onA.add('app alice', '203.0.113.1', T0)).toBe(1);
      expect(await onB.add('app alice', '2001:db8::7', T0 + 1)).toBe(2);
      expect(await onA.add('app alice', '198.51.100.9', T0 + 2)).toEqual({
        count: 3,
        values: ['203.0.113.1', '2001:db8::7', '198.51.100.9'],
      });
    });

    it('stores at most `limit` values per key; take empties a key once for all instances', async () => {
      const { prefix, a, b } = await instances();
      const spec = { name: 'paths', windowMs: WINDOW_MS, limit: 4, values: 'digest' } as const;
      const onA = scopeOf(a, 'bulk-scraping').distinct(spec);
      const onB = scopeOf(b, 'bulk-scraping').distinct(spec);
      for (let i = 0; i < 10; i++) await onA.add('dave', `/p/${String(i)}`, T0 + i);
      const key = buildRedisWindowKey(prefix, 'bulk-scraping', 'paths', 'dave');
      expect(await inspect.zcard(key)).toBe(4);
      expect(await onB.add('dave', '/p/99', T0 + 20)).toBe(4);
      expect(await onB.take('dave', 5, T0 + 21)).toBe(false);
      const taken = await Promise.all([onA.take('dave', 4, T0 + 22), onB.take('dave', 4, T0 + 22)]);
      expect(taken.filter(Boolean)).toHaveLength(1);
      expect(await inspect.exists(key)).toBe(0);
    });

    it('gives a baseline the shared counts this instance last read, within the window', async () => {
      const { a, b } = await instances();
      const spec = { name: 'paths', windowMs: WINDOW_MS, limit: 100, values: 'digest' } as const;
      const onA = scopeOf(a, 'bulk-scraping').distinct(spec);
      const onB = scopeOf(b, 'bulk-scraping').distinct(spec);
      for (let i = 0; i < 3; i++) await onB.add('erin', `/e/${String(i)}`, T0 + i);
      expect(await onA.add('erin', '/e/3', T0 + 10)).toBe(4);
      expect(await onA.add('frank', '/f/0', T0 + 10)).toBe(1);
      expect(new Map(onA.counts(T0 + 20))).toEqual(
        new Map([
          ['erin', 4],
          ['frank', 1],
        ]),
      );
      expect([...onA.counts(T0 + 10 + WINDOW_MS)]).toEqual([]);
    });
  });

  describe('event counts', () => {
    it('two instances count together; a crossing once; buckets older than the window drop out', async () => {
      const { prefix, a, b } = await instances();
      const spec = { name: 'errors', windowMs: WINDOW_MS, buckets: 10, threshold: 6 };
      const onA = scopeOf(a, 'fuzzing').counter(spec);
      const onB = scopeOf(b, 'fuzzing').counter(spec);
      const key = buildRedisWindowKey(prefix, 'fuzzing', 'errors', '203.0.113.5');
      const answers: (number | Crossing)[] = [];
      for (let i = 0; i < 6; i++)
        answers.push(await (i % 2 === 0 ? onA : onB).add('203.0.113.5', T0 + i * 7000));
      expect(answers).toEqual([1, 2, 3, 4, 5, { count: 6, values: [] }]);
      expect(await inspect.exists(key)).toBe(0);

      for (let i = 0; i < 5; i++) await (i % 2 === 0 ? onA : onB).add('203.0.113.5', T0 + 100_000 + i * 7000);
      expect(await inspect.hlen(key)).toBeLessThanOrEqual(10);
      // One window after the first of them, it has left; the other four stay.
      expect(await onA.add('203.0.113.5', T0 + 100_000 + WINDOW_MS)).toBe(5);
    });
  });

  describe('walks over consecutive ids', () => {
    it('a walk split across two instances is one walk; gaps and turns restart it', async () => {
      const { a, b } = await instances();
      const spec = { name: 'walk', windowMs: WINDOW_MS, run: 5 };
      const onA = scopeOf(a).walk(spec);
      const onB = scopeOf(b).walk(spec);
      const walk = async (key: string, ids: readonly number[], from = T0): Promise<number[]> => {
        const runs: number[] = [];
        for (const [i, n] of ids.entries()) runs.push(await (i % 2 === 0 ? onA : onB).step(key, n, from + i));
        return runs;
      };
      expect(await walk('u1', [100, 101, 102, 103, 104])).toEqual([0, 0, 0, 0, 5]);
      expect(await walk('u2', [10, 9, 8, 7, 6])).toEqual([0, 0, 0, 0, 5]);
      // A gap, then a turn, each start a new run; the same id again changes nothing.
      expect(await walk('u3', [1, 2, 4, 5, 6, 6, 5, 4, 3, 2])).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
      expect(await walk('u3', [1, 0])).toEqual([5, 0]);
    });
  });

  describe('decides as the memory windows', () => {
    const distinctCases: readonly {
      name: string;
      steps: readonly [key: string, value: string, at: number][];
    }[] = [
      {
        name: 'threshold reached across keys, repeats and expiry',
        steps: [
          ['k1', 'a', 0],
          ['k1', 'b', 1000],
          ['k2', 'a', 1000],
          ['k1', 'a', 20_000],
          ['k1', 'c', 30_000],
          ['k1', 'd', 59_000],
          ['k1', 'e', 75_000],
          ['k1', 'f', 76_000],
          ['k1', 'g', 77_000],
          ['k2', 'b', 200_000],
        ],
      },
      {
        name: 'a crossing empties the key; counting starts afresh',
        steps: Array.from(
          { length: 12 },
          (_, i) => ['k', `v${String(i % 7)}`, i * 1000] as [string, string, number],
        ),
      },
    ];

    it.each(distinctCases)('distinct: $name', async ({ steps }) => {
      const { a } = await instances();
      const spec = { name: 'ids', windowMs: WINDOW_MS, limit: 5, threshold: 5, values: 'digest' } as const;
      const shared = scopeOf(a).distinct(spec);
      const memory = scopeOf(createMemoryWindowStore()).distinct(spec);
      const fromRedis: unknown[] = [];
      const fromMemory: unknown[] = [];
      for (const [key, value, at] of steps) {
        fromRedis.push(await shared.add(key, value, T0 + at));
        fromMemory.push(await memory.add(key, value, T0 + at));
      }
      expect(fromRedis).toEqual(fromMemory);
      expect(fromMemory.some((answer) => typeof answer !== 'number')).toBe(true);
    });

    it('events and walks', async () => {
      const { a } = await instances();
      const memory = scopeOf(createMemoryWindowStore());
      const shared = scopeOf(a);
      const counterSpec = { name: 'errors', windowMs: WINDOW_MS, buckets: 10, threshold: 7 };
      const sharedCounter = shared.counter(counterSpec);
      const memoryCounter = memory.counter(counterSpec);
      const walkSpec = { name: 'walk', windowMs: WINDOW_MS, run: 4 };
      const sharedWalk = shared.walk(walkSpec);
      const memoryWalk = memory.walk(walkSpec);
      const counts: { redis: unknown[]; memory: unknown[] } = { redis: [], memory: [] };
      // Buckets of 6 s: the 7th event crosses; buckets rolled out of the window no longer count.
      const times = [0, 3000, 9000, 15_000, 30_000, 59_000, 61_000, 62_000, 70_000, 71_000, 72_000, 140_000];
      for (const at of times) {
        counts.redis.push(await sharedCounter.add('ip', T0 + at));
        counts.memory.push(await memoryCounter.add('ip', T0 + at));
      }
      expect(counts.memory).toEqual([1, 2, 3, 4, 5, 6, 5, 6, 6, { count: 7, values: [] }, 1, 1]);
      expect(counts.redis).toEqual(counts.memory);
      const runs: { redis: unknown[]; memory: unknown[] } = { redis: [], memory: [] };
      const ids = [5, 6, 7, 9, 10, 11, 12, 13, 12, 11, 10, 10, 9, 20];
      for (const [i, n] of ids.entries()) {
        const at = T0 + i * 10_000;
        runs.redis.push(await sharedWalk.step('actor', n, at));
        runs.memory.push(await memoryWalk.step('actor', n, at));
      }
      expect(runs.memory).toEqual([0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0]);
      expect(runs.redis).toEqual(runs.memory);
    });
  });

  describe('Redis failing', () => {
    let relay: TcpRelay;
    beforeAll(async () => {
      relay = await startTcpRelay([relayTargetOf(serviceUrl('redis'), 6379)]);
    });
    afterAll(() => relay.close());

    it('windows count locally during an outage (logged once, each observation counted), shared again after', async () => {
      const prefix = `test:${randomBytes(6).toString('hex')}:`;
      prefixes.push(prefix);
      const { logger, lines } = captureLogger();
      const store = await createRedisWindowStore({ url: relay.url('redis'), prefix, logger });
      stores.push(store);
      let fallbacks = 0;
      const window = scopeOf(store, 'enumeration', () => fallbacks++).distinct({
        name: 'ids',
        windowMs: WINDOW_MS,
        limit: 4,
        threshold: 4,
        values: 'digest',
      });
      expect(await window.add('mallory', 'id 1', T0)).toBe(1);
      expect(await window.add('mallory', 'id 2', T0)).toBe(2);

      await relay.cut();
      // Redis' two values are out of reach: the local window counts from nothing, to its own threshold.
      const during: unknown[] = [];
      for (let i = 3; i <= 6; i++) during.push(await window.add('mallory', `id ${String(i)}`, T0 + i));
      expect(during).toEqual([1, 2, 3, { count: 4, values: [] }]);
      expect(fallbacks).toBe(4);
      const failed = lines.filter((line) =>
        String(line['msg']).includes('failed; detectors count in this instance'),
      );
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ level: 40 });

      await relay.restore();
      // Observations keep probing until one reaches Redis (the client reconnects by itself).
      let probe = 0;
      await expect
        .poll(
          async () => {
            await window.add('probe', `p${String(probe++)}`, T0 + 10_000);
            return lines.filter((line) => String(line['msg']).includes('answers again')).length;
          },
          { timeout: 15_000, interval: 100 },
        )
        .toBe(1);
      // Shared again: the two values counted before the outage are still there.
      expect(await window.add('mallory', 'id 2', T0 + 10_001)).toBe(2);
      expect(await window.add('mallory', 'id 7', T0 + 10_002)).toBe(3);
    });

    it('opens while Redis is unreachable and counts locally', async () => {
      const { logger, lines } = captureLogger();
      const store = await createRedisWindowStore({
        url: `redis://127.0.0.1:${String(await closedPort())}`,
        prefix: 'test:unreachable:',
        logger,
      });
      stores.push(store);
      let fallbacks = 0;
      const errors = scopeOf(store, 'fuzzing', () => fallbacks++).counter({
        name: 'errors',
        windowMs: WINDOW_MS,
        buckets: 10,
        threshold: 3,
      });
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await errors.add('203.0.113.9', T0 + i));
      expect(answers).toEqual([1, 2, { count: 3, values: [] }]);
      expect(fallbacks).toBe(3);
      expect(lines.filter((line) => String(line['msg']).includes('unreachable'))).toHaveLength(1);
      expect(lines.filter((line) => String(line['msg']).includes('failed; detectors'))).toHaveLength(0);
    });
  });
});

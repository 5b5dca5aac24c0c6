import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket, connect } from 'node:net';
import { requireService, serviceUrl } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryRateLimitStore } from '../../src/limits/memory-rate-limit-store.js';
import type { RateLimitRule, RateLimitSubject } from '../../src/limits/rate-limit-rule.js';
import type { RateLimitStore } from '../../src/limits/rate-limit-store.js';
import { createRateLimiter } from '../../src/limits/rate-limiter.js';
import { createRedisRateLimitStore } from '../../src/limits/redis-rate-limit-store.js';
import { CASE_START_MS, GCRA_CASES, SLIDING_WINDOW_CASES } from './rate-limit-cases.js';

const redis = await requireService('redis', 'gateway Redis rate-limit store');
const subject: RateLimitSubject = { ip: '192.0.2.7', clientId: undefined, sub: undefined, route: 'r' };
const rule: RateLimitRule = { id: 'per-ip', algorithm: 'gcra', limit: 2, windowMs: 60_000, key: ['ip'] };

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('Redis rate-limit store unreachable', () => {
  it('fails creation by default (a wrong URL is caught at startup)', async () => {
    await expect(
      createRedisRateLimitStore({ url: `redis://127.0.0.1:${await closedPort()}` }),
    ).rejects.toMatchObject({
      code: 'ERR_STORE_UNAVAILABLE',
    });
  });

  describe('onStoreFailure against a Redis that is down', () => {
    let store: RateLimitStore;
    beforeAll(async () => {
      store = await createRedisRateLimitStore({
        url: `redis://127.0.0.1:${await closedPort()}`,
        requireConnection: false,
      });
    });
    afterAll(() => store.close());

    it('the store rejects with ERR_STORE_UNAVAILABLE at once', async () => {
      await expect(Promise.resolve(store.hit(rule, 'k', CASE_START_MS))).rejects.toMatchObject({
        code: 'ERR_STORE_UNAVAILABLE',
      });
    });

    it('open: every request passes', async () => {
      const limiter = createRateLimiter({ store, onStoreFailure: 'open' });
      for (let i = 0; i < 4; i++) {
        expect(await limiter.check([rule], subject)).toMatchObject({
          allowed: true,
          storeFailed: true,
          headers: {},
        });
      }
    });

    it('closed: every request is refused as a store failure (503), not a rate limit', async () => {
      const limiter = createRateLimiter({ store, onStoreFailure: 'closed' });
      for (let i = 0; i < 2; i++) {
        expect(await limiter.check([rule], subject)).toEqual({
          allowed: false,
          headers: {},
          retryAfterSec: undefined,
          rule: 'per-ip',
          storeFailed: true,
        });
      }
    });

    it('local: the limit still holds, counted in this process', async () => {
      const errors: unknown[] = [];
      const limiter = createRateLimiter({
        store,
        onStoreFailure: 'local',
        onStoreError: (err) => errors.push(err),
      });
      const allowed = [];
      for (let i = 0; i < 4; i++) allowed.push((await limiter.check([rule], subject)).allowed);
      expect(allowed).toEqual([true, true, false, false]);
      expect(errors).toHaveLength(4);
      expect(errors[0]).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
      await limiter.close();
    });
  });
});

describe.skipIf(!redis.available)('Redis rate-limit store', () => {
  const prefix = `test:${randomBytes(6).toString('hex')}:`;
  let store: RateLimitStore;
  beforeAll(async () => {
    store = await createRedisRateLimitStore({ url: serviceUrl('redis'), prefix });
  });
  afterAll(() => store.close());

  describe.each([
    ['GCRA', GCRA_CASES],
    ['sliding window', SLIDING_WINDOW_CASES],
  ])('decides exactly as the memory store: %s', (_name, cases) => {
    it.each(cases)('$name', async ({ rule: caseRule, steps }) => {
      const memory = createMemoryRateLimitStore();
      // A fresh key space per case and run: Redis remembers earlier runs.
      const base = randomBytes(6).toString('hex');
      const fromRedis = [];
      const fromMemory = [];
      for (const { at, key = 'k' } of steps) {
        const d = await store.hit(caseRule, `${base}:${key}`, CASE_START_MS + at);
        fromRedis.push([d.allowed, d.remaining, d.resetMs, d.retryAfterMs]);
        const m = memory.hit(caseRule, `${base}:${key}`, CASE_START_MS + at);
        fromMemory.push([m.allowed, m.remaining, m.resetMs, m.retryAfterMs]);
      }
      expect(fromRedis).toEqual(steps.map((step) => step.expect));
      expect(fromRedis).toEqual(fromMemory);
    });
  });

  it('expires its keys once they mean a full quota', async () => {
    const key = randomBytes(6).toString('hex');
    const { Redis } = await import('ioredis');
    const client = new Redis(serviceUrl('redis'));
    try {
      await store.hit(rule, key, Date.now());
      const gcraTtl = await client.pttl(`${prefix}rl:{${key}}`);
      expect(gcraTtl).toBeGreaterThan(0);
      expect(gcraTtl).toBeLessThanOrEqual(30_000);
      const sliding: RateLimitRule = { ...rule, algorithm: 'sliding-window' };
      const now = Date.now();
      await store.hit(sliding, key, now);
      const index = Math.floor(now / 60_000);
      const slidingTtl = await client.pttl(`${prefix}rl:{${key}}:60000:${index}`);
      expect(slidingTtl).toBeGreaterThan(60_000 - 1000);
      expect(slidingTtl).toBeLessThanOrEqual(120_000);
    } finally {
      client.disconnect();
    }
  });

  it('reloads its scripts when Redis forgot them (SCRIPT FLUSH)', async () => {
    const { Redis } = await import('ioredis');
    const client = new Redis(serviceUrl('redis'));
    try {
      await client.script('FLUSH');
      const d = await store.hit(rule, randomBytes(6).toString('hex'), Date.now());
      expect(d).toMatchObject({ allowed: true, remaining: 1 });
    } finally {
      client.disconnect();
    }
  });

  describe('an outage after startup, through a proxy that goes down and comes back', () => {
    let proxy: Server;
    let port: number;
    const sockets = new Set<Socket>();
    const target = new URL(serviceUrl('redis'));

    const listen = async (): Promise<void> => {
      proxy = createServer((client) => {
        const upstream = connect(Number(target.port || 6379), target.hostname);
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        const drop = (): void => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
      });
      await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
      port = (proxy.address() as AddressInfo).port;
    };
    const cut = async (): Promise<void> => {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    };

    beforeAll(async () => {
      port = 0;
      await listen();
    });
    afterAll(async () => {
      if (proxy.listening) await cut();
    });

    it('local while Redis is away, shared again once it is back', async () => {
      const proxied = await createRedisRateLimitStore({ url: `redis://127.0.0.1:${port}`, prefix });
      try {
        const limiter = createRateLimiter({ store: proxied, onStoreFailure: 'local' });
        const who = { ...subject, ip: `2001:db8::${randomBytes(2).toString('hex')}` };
        expect(await limiter.check([rule], who)).toMatchObject({ allowed: true, storeFailed: false });
        await cut();
        // The local store starts empty: during the outage it limits on its own.
        const during = [];
        for (let i = 0; i < 3; i++) during.push(await limiter.check([rule], who));
        expect(during.map((r) => [r.allowed, r.storeFailed])).toEqual([
          [true, true],
          [true, true],
          [false, true],
        ]);
        await listen();
        await expect
          .poll(async () => (await limiter.check([{ ...rule, id: 'probe', limit: 1000 }], who)).storeFailed, {
            timeout: 10_000,
            interval: 100,
          })
          .toBe(false);
        // Back on Redis, which still holds the first request: one more fits.
        expect(await limiter.check([rule], who)).toMatchObject({ allowed: true, storeFailed: false });
        expect(await limiter.check([rule], who)).toMatchObject({ allowed: false, storeFailed: false });
        await limiter.close();
      } finally {
        await proxied.close();
      }
    });

    it('started while Redis is away (requireConnection false), it connects once Redis is there', async () => {
      await cut();
      const late = await createRedisRateLimitStore({
        url: `redis://127.0.0.1:${port}`,
        prefix,
        requireConnection: false,
      });
      try {
        const limiter = createRateLimiter({ store: late, onStoreFailure: 'open' });
        expect(await limiter.check([rule], subject)).toMatchObject({ allowed: true, storeFailed: true });
        await listen();
        await expect
          .poll(async () => (await limiter.check([{ ...rule, limit: 1000 }], subject)).storeFailed, {
            timeout: 10_000,
            interval: 100,
          })
          .toBe(false);
      } finally {
        await late.close();
      }
    });
  });
});

import { randomBytes } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { requireService, serviceUrl } from '@gatehouse/testing';
import { describe, expect, it } from 'vitest';
import { createMemoryRateLimitStore } from '../../src/limits/memory-rate-limit-store.js';
import type { RateLimitRule, RateLimitSubject } from '../../src/limits/rate-limit-rule.js';
import type { RateLimitStore } from '../../src/limits/rate-limit-store.js';
import { createRateLimiter, type RateLimiter } from '../../src/limits/rate-limiter.js';
import { createRedisRateLimitStore } from '../../src/limits/redis-rate-limit-store.js';

const redis = await requireService('redis', 'gateway rate-limit accuracy on Redis');

const CLIENTS = 20;
const DURATION_MS = 2000;

/**
 * CLIENTS concurrent async clients send requests back to back for DURATION_MS through the
 * limiters (one per simulated gateway instance, clients spread over them), all as one subject.
 */
async function hammer(
  limiters: readonly RateLimiter[],
  rule: RateLimitRule,
): Promise<{ allowed: number; refused: number; elapsedMs: number }> {
  const subject: RateLimitSubject = {
    ip: '192.0.2.1',
    clientId: `accuracy-${randomBytes(6).toString('hex')}`,
    sub: undefined,
    route: 'r',
  };
  let allowed = 0;
  let refused = 0;
  const start = Date.now();
  const end = start + DURATION_MS;
  let last = start;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      const limiter = limiters[client % limiters.length]!;
      let sent = 0;
      while (Date.now() < end) {
        const result = await limiter.check([rule], subject);
        last = Math.max(last, Date.now());
        if (result.storeFailed) throw new Error('store failed during the run');
        if (result.allowed) allowed++;
        else refused++;
        // The memory store answers synchronously: let the other clients and timers run.
        if (++sent % 16 === 0) await yieldToEventLoop();
      }
    }),
  );
  return { allowed, refused, elapsedMs: last - start };
}

function within5Percent(actual: number, expected: number): void {
  expect(actual).toBeGreaterThanOrEqual(Math.floor(expected * 0.95));
  expect(actual).toBeLessThanOrEqual(Math.ceil(expected * 1.05));
}

// GCRA: 1000 per 2 s with a burst of 100. Over the run the allowed count is the burst plus one per
// emission interval elapsed (2 ms), i.e. about the configured 1000 + burst for a 2 s run.
const gcra: RateLimitRule = {
  id: 'acc-gcra',
  algorithm: 'gcra',
  limit: 1000,
  windowMs: 2000,
  burst: 100,
  key: ['client_id'],
};
// Sliding window: 500 per minute; a 2 s run admits the limit (crossing a window boundary adds
// at most 500 × 2/60, within the tolerance).
const sliding: RateLimitRule = {
  id: 'acc-sliding',
  algorithm: 'sliding-window',
  limit: 500,
  windowMs: 60_000,
  key: ['client_id'],
};

async function expectAccurate(stores: readonly RateLimitStore[]): Promise<void> {
  const limiters = stores.map((store) => createRateLimiter({ store, onStoreFailure: 'closed' }));
  const g = await hammer(limiters, gcra);
  expect(g.refused).toBeGreaterThan(0);
  within5Percent(g.allowed, (gcra.burst ?? 0) + g.elapsedMs * (gcra.limit / gcra.windowMs));
  const s = await hammer(limiters, sliding);
  expect(s.refused).toBeGreaterThan(0);
  within5Percent(s.allowed, sliding.limit);
}

describe('rate-limit accuracy under concurrency', () => {
  it(`memory store: ${CLIENTS} clients for ${DURATION_MS} ms`, async () => {
    await expectAccurate([createMemoryRateLimitStore()]);
  });

  it.skipIf(!redis.available)(
    `Redis store, two instances sharing Redis: ${CLIENTS} clients for ${DURATION_MS} ms`,
    async () => {
      const prefix = `test:${randomBytes(6).toString('hex')}:`;
      const stores = await Promise.all([
        createRedisRateLimitStore({ url: serviceUrl('redis'), prefix }),
        createRedisRateLimitStore({ url: serviceUrl('redis'), prefix }),
      ]);
      try {
        await expectAccurate(stores);
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
    },
  );
});

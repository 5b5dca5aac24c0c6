import { describe, expect, it } from 'vitest';
import { createMemoryRateLimitStore } from './memory-rate-limit-store.js';
import type { RateLimitRule, RateLimitSubject } from './rate-limit-rule.js';
import type { RateLimitStore } from './rate-limit-store.js';
import { createRateLimiter } from './rate-limiter.js';

const T0 = 1_800_000_000_000;
const subject: RateLimitSubject = { ip: '192.0.2.7', clientId: 'app', sub: 'alice', route: 'accounts' };
const perIp: RateLimitRule = { id: 'per-ip', algorithm: 'gcra', limit: 3, windowMs: 60_000, key: ['ip'] };
const perClient: RateLimitRule = {
  id: 'per-client',
  algorithm: 'sliding-window',
  limit: 5,
  windowMs: 1500,
  key: ['client_id'],
};

function clock(start = T0): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** A store that fails like an unreachable Redis. */
function brokenStore(): RateLimitStore {
  return {
    kind: 'redis',
    hit: () => Promise.reject(new Error('connection refused')),
    close: () => Promise.resolve(),
  };
}

/** A store answering with promises (like Redis) over the memory store's decisions. */
function asyncStore(): RateLimitStore {
  const memory = createMemoryRateLimitStore();
  return {
    kind: 'redis',
    hit: (rule, key, nowMs) => Promise.resolve(memory.hit(rule, key, nowMs)),
    close: () => memory.close(),
  };
}

/** A store that throws instead of rejecting. */
function throwingStore(): RateLimitStore {
  return {
    kind: 'redis',
    hit: () => {
      throw new Error('connection refused');
    },
    close: () => Promise.resolve(),
  };
}

describe('createRateLimiter', () => {
  it('allows without headers when the route has no limits', async () => {
    const limiter = createRateLimiter({ store: createMemoryRateLimitStore(), onStoreFailure: 'open' });
    expect(await limiter.check([], subject)).toEqual({
      allowed: true,
      headers: {},
      retryAfterSec: undefined,
      rule: undefined,
      storeFailed: false,
    });
  });

  it('advertises the policy and the service limit (draft-ietf-httpapi-ratelimit-headers-11)', async () => {
    const time = clock();
    const limiter = createRateLimiter({
      store: createMemoryRateLimitStore(),
      onStoreFailure: 'open',
      now: time.now,
    });
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await limiter.check([perIp], subject));
    expect(results.map((r) => r.headers)).toEqual([
      { 'ratelimit-policy': '"per-ip";q=3;w=60', ratelimit: '"per-ip";r=2;t=20' },
      { 'ratelimit-policy': '"per-ip";q=3;w=60', ratelimit: '"per-ip";r=1;t=40' },
      { 'ratelimit-policy': '"per-ip";q=3;w=60', ratelimit: '"per-ip";r=0;t=60' },
      // Refused: t is the wait, equal to Retry-After (§6).
      { 'ratelimit-policy': '"per-ip";q=3;w=60', ratelimit: '"per-ip";r=0;t=20' },
    ]);
    expect(results[3]).toMatchObject({
      allowed: false,
      retryAfterSec: 20,
      rule: 'per-ip',
      storeFailed: false,
    });
    time.advance(19_500);
    expect(await limiter.check([perIp], subject)).toMatchObject({ allowed: false, retryAfterSec: 1 });
    time.advance(500);
    expect(await limiter.check([perIp], subject)).toMatchObject({ allowed: true, retryAfterSec: undefined });
  });

  it('needs every rule to allow, and reports the most restrictive one', async () => {
    const time = clock();
    const limiter = createRateLimiter({
      store: createMemoryRateLimitStore(),
      onStoreFailure: 'open',
      now: time.now,
    });
    const first = await limiter.check([perClient, perIp], subject);
    // per-ip has 2 left, per-client 4: per-ip is advertised.
    expect(first.headers).toEqual({
      'ratelimit-policy': '"per-ip";q=3;w=60',
      ratelimit: '"per-ip";r=2;t=20',
    });
    await limiter.check([perClient, perIp], subject);
    await limiter.check([perClient, perIp], subject);
    const refused = await limiter.check([perClient, perIp], subject);
    expect(refused).toMatchObject({ allowed: false, rule: 'per-ip' });
    // A sub-second window is advertised as 1 s; another client still has its own per-client quota.
    const other = await limiter.check([perClient], { ...subject, clientId: 'other' });
    expect(other.headers['ratelimit-policy']).toBe('"per-client";q=5;w=2');
  });

  it('ties on the remaining quota go to the rule that takes longer to refill', async () => {
    const limiter = createRateLimiter({
      store: createMemoryRateLimitStore(),
      onStoreFailure: 'open',
      now: clock().now,
    });
    const short: RateLimitRule = { ...perIp, id: 'short', windowMs: 3000 };
    expect((await limiter.check([short, perIp], subject)).headers['ratelimit']).toBe('"per-ip";r=2;t=20');
    expect((await limiter.check([perIp, short], { ...subject, ip: '192.0.2.8' })).headers['ratelimit']).toBe(
      '"per-ip";r=2;t=20',
    );
  });

  it('stops at the first refusing rule: later rules are not charged', async () => {
    const store = createMemoryRateLimitStore();
    const limiter = createRateLimiter({ store, onStoreFailure: 'open', now: clock().now });
    const tight: RateLimitRule = { ...perIp, id: 'tight', limit: 1 };
    await limiter.check([tight], subject);
    await limiter.check([tight, perIp], subject);
    expect((await limiter.check([perIp], subject)).headers['ratelimit']).toBe('"per-ip";r=2;t=20');
  });

  it('writes the policy name as an sf-string (RFC 9651 §3.3.3)', async () => {
    const limiter = createRateLimiter({
      store: createMemoryRateLimitStore(),
      onStoreFailure: 'open',
      now: clock().now,
    });
    const odd: RateLimitRule = { ...perIp, id: 'a"b\\c\u00e9' };
    expect((await limiter.check([odd], subject)).headers['ratelimit-policy']).toBe('"a\\"b\\\\c?";q=3;w=60');
  });

  describe('when the store fails', () => {
    it.each([
      ['open', { allowed: true, headers: {}, rule: undefined, storeFailed: true }],
      [
        'closed',
        { allowed: false, headers: {}, retryAfterSec: undefined, rule: 'per-ip', storeFailed: true },
      ],
    ] as const)('%s', async (mode, expected) => {
      const errors: unknown[] = [];
      const limiter = createRateLimiter({
        store: brokenStore(),
        onStoreFailure: mode,
        onStoreError: (e) => errors.push(e),
      });
      for (let i = 0; i < 5; i++) expect(await limiter.check([perIp], subject)).toMatchObject(expected);
      expect(errors).toHaveLength(5);
    });

    it('local: counts in process memory instead', async () => {
      const limiter = createRateLimiter({ store: brokenStore(), onStoreFailure: 'local', now: clock().now });
      const results = [];
      for (let i = 0; i < 4; i++) results.push(await limiter.check([perIp], subject));
      expect(results.map((r) => [r.allowed, r.storeFailed])).toEqual([
        [true, true],
        [true, true],
        [true, true],
        [false, true],
      ]);
      expect(results[3]?.headers['ratelimit']).toBe('"per-ip";r=0;t=20');
      await limiter.close();
    });

    it('logs the outage once and its end once', async () => {
      const lines: [string, string][] = [];
      const logger = {
        warn: (_: unknown, message: string) => lines.push(['warn', message]),
        info: (_: unknown, message: string) => lines.push(['info', message]),
      } as unknown as Parameters<typeof createRateLimiter>[0]['logger'];
      let failing = true;
      const memory = createMemoryRateLimitStore();
      const flaky: RateLimitStore = {
        kind: 'redis',
        hit: (rule, key, nowMs) =>
          failing ? Promise.reject(new Error('down')) : Promise.resolve(memory.hit(rule, key, nowMs)),
        close: () => Promise.resolve(),
      };
      const limiter = createRateLimiter({ store: flaky, onStoreFailure: 'open', logger: logger! });
      await limiter.check([perIp], subject);
      await limiter.check([perIp], subject);
      failing = false;
      await limiter.check([perIp], subject);
      await limiter.check([perIp], subject);
      expect(lines.map(([level]) => level)).toEqual(['warn', 'info']);
    });
  });
  it('answers synchronously over the memory store, and with a promise over an asynchronous store', async () => {
    const sync = createRateLimiter({
      store: createMemoryRateLimitStore(),
      onStoreFailure: 'open',
      now: () => T0,
    });
    const viaPromise = createRateLimiter({ store: asyncStore(), onStoreFailure: 'open', now: () => T0 });
    for (let i = 0; i < 4; i++) {
      const direct = sync.check([perClient, perIp], subject);
      expect(direct).not.toBeInstanceOf(Promise);
      const pending = viaPromise.check([perClient, perIp], subject);
      expect(pending).toBeInstanceOf(Promise);
      // The same decisions, headers and refusing rule either way.
      expect(await pending).toEqual(direct);
    }
    expect(await viaPromise.check([perIp], subject)).toMatchObject({ allowed: false, rule: 'per-ip' });
  });

  it('a store that throws counts as failed like one that rejects, in every mode', async () => {
    const closed = createRateLimiter({ store: throwingStore(), onStoreFailure: 'closed', now: () => T0 });
    expect(closed.check([perIp], subject)).toEqual({
      allowed: false,
      headers: {},
      retryAfterSec: undefined,
      rule: 'per-ip',
      storeFailed: true,
    });
    const open = createRateLimiter({ store: throwingStore(), onStoreFailure: 'open', now: () => T0 });
    expect(open.check([perIp], subject)).toMatchObject({ allowed: true, headers: {}, storeFailed: true });
    const local = createRateLimiter({ store: throwingStore(), onStoreFailure: 'local', now: () => T0 });
    const decisions = [0, 1, 2, 3].map(() => local.check([perIp], subject));
    expect(decisions.map((d) => ('allowed' in d ? d.allowed : undefined))).toEqual([true, true, true, false]);
    await local.close();
  });
});

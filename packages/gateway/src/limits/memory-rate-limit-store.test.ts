import { describe, expect, it } from 'vitest';
import { CASE_START_MS, GCRA_CASES, SLIDING_WINDOW_CASES } from '../../test/limits/rate-limit-cases.js';
import { createMemoryRateLimitStore } from './memory-rate-limit-store.js';
import type { RateLimitRule } from './rate-limit-rule.js';

describe.each([
  ['GCRA', GCRA_CASES],
  ['sliding window', SLIDING_WINDOW_CASES],
])('memory store, %s', (_name, cases) => {
  it.each(cases)('$name', ({ rule, steps }) => {
    const store = createMemoryRateLimitStore();
    const seen = steps.map(({ at, key = 'k' }) => {
      const d = store.hit(rule, key, CASE_START_MS + at);
      return [d.allowed, d.remaining, d.resetMs, d.retryAfterMs];
    });
    expect(seen).toEqual(steps.map((step) => step.expect));
  });
});

const gcra: RateLimitRule = { id: 'g', algorithm: 'gcra', limit: 2, windowMs: 10_000, key: ['ip'] };
const sliding: RateLimitRule = { ...gcra, id: 's', algorithm: 'sliding-window' };

describe('memory store bounds', () => {
  it('evicts expired keys first', () => {
    const store = createMemoryRateLimitStore({ maxKeys: 3 });
    store.hit(gcra, 'old', 0);
    store.hit(gcra, 'a', 9000);
    store.hit(gcra, 'b', 9000);
    // "old" (5 s TAT) has expired at 9 s; a and b are kept.
    store.hit(gcra, 'new', 9000);
    expect(store.size).toBe(3);
    expect(store.hit(gcra, 'a', 9000).remaining).toBe(0);
  });

  it('then evicts the least recently used', () => {
    const store = createMemoryRateLimitStore({ maxKeys: 3 });
    store.hit(gcra, 'a', 0);
    store.hit(gcra, 'b', 0);
    store.hit(gcra, 'c', 0);
    store.hit(gcra, 'a', 0);
    store.hit(gcra, 'd', 0);
    expect(store.size).toBe(3);
    // a was used last, so b went: a keeps its count, b starts afresh.
    expect(store.hit(gcra, 'a', 0).allowed).toBe(false);
    expect(store.hit(gcra, 'b', 0).remaining).toBe(1);
  });

  it('keeps the recency order when one key is hit many times in a row', () => {
    const big: RateLimitRule = { ...gcra, limit: 100 };
    const store = createMemoryRateLimitStore({ maxKeys: 3 });
    store.hit(big, 'a', 0);
    store.hit(big, 'b', 0);
    store.hit(big, 'b', 0);
    store.hit(big, 'c', 0);
    store.hit(big, 'a', 0);
    store.hit(big, 'a', 0);
    store.hit(big, 'b', 0);
    // c is now the least recently used: the fourth key evicts it, and only it.
    store.hit(big, 'd', 0);
    expect(store.size).toBe(3);
    expect(store.hit(big, 'a', 0).remaining).toBe(96);
    expect(store.hit(big, 'b', 0).remaining).toBe(96);
    expect(store.hit(big, 'c', 0).remaining).toBe(99);
  });

  it('refuses a useless bound', () => {
    expect(() => createMemoryRateLimitStore({ maxKeys: 0 })).toThrow(RangeError);
  });

  it('starts afresh when a key changes algorithm or window (a reloaded rule)', () => {
    const store = createMemoryRateLimitStore();
    store.hit(gcra, 'k', 0);
    store.hit(gcra, 'k', 0);
    expect(store.hit(sliding, 'k', 0)).toMatchObject({ allowed: true, remaining: 1 });
    expect(store.hit({ ...sliding, windowMs: 20_000 }, 'k', 0)).toMatchObject({
      allowed: true,
      remaining: 1,
    });
    expect(store.hit(gcra, 'k', 0)).toMatchObject({ allowed: true, remaining: 1 });
  });

  it('counts a clock that steps back in the latest window', () => {
    const store = createMemoryRateLimitStore();
    store.hit(sliding, 'k', 25_000);
    store.hit(sliding, 'k', 25_000);
    expect(store.hit(sliding, 'k', 15_000).allowed).toBe(false);
  });

  it('empties on close', async () => {
    const store = createMemoryRateLimitStore();
    store.hit(gcra, 'k', 0);
    await store.close();
    expect(store.size).toBe(0);
  });
});

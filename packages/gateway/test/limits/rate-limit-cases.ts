import type { RateLimitRule } from '../../src/limits/rate-limit-rule.js';

/** A request at `at` ms after the case start, and the decision expected: allowed, remaining, resetMs, retryAfterMs. */
export interface RateLimitStep {
  readonly at: number;
  readonly key?: string;
  readonly expect: readonly [boolean, number, number, number];
}

export interface RateLimitCase {
  readonly name: string;
  readonly rule: RateLimitRule;
  readonly steps: readonly RateLimitStep[];
}

/** Start of every case: a multiple of every window below, so sliding windows start at 0. */
export const CASE_START_MS = 1_800_000_000_000;

const rule = (
  overrides: Partial<RateLimitRule> & Pick<RateLimitRule, 'algorithm' | 'limit' | 'windowMs'>,
): RateLimitRule => ({
  id: 'case',
  key: ['ip'],
  ...overrides,
});

// Windows are long (≥ 10 s) so that the Redis keys of a case never expire in real time while
// its steps run against the injected clock.
export const GCRA_CASES: readonly RateLimitCase[] = [
  {
    name: 'burst = limit: 5 at once, then one per emission interval (2 s)',
    rule: rule({ algorithm: 'gcra', limit: 5, windowMs: 10_000 }),
    steps: [
      { at: 0, expect: [true, 4, 2000, 0] },
      { at: 0, expect: [true, 3, 4000, 0] },
      { at: 0, expect: [true, 2, 6000, 0] },
      { at: 0, expect: [true, 1, 8000, 0] },
      { at: 0, expect: [true, 0, 10_000, 0] },
      { at: 0, expect: [false, 0, 10_000, 2000] },
      { at: 1000, expect: [false, 0, 9000, 1000] },
      { at: 1999, expect: [false, 0, 8001, 1] },
      { at: 2000, expect: [true, 0, 10_000, 0] },
      { at: 2000, expect: [false, 0, 10_000, 2000] },
      // Another key has its own quota.
      { at: 2000, key: 'other', expect: [true, 4, 2000, 0] },
      // Idle until the quota is full again, and past it: never more than the burst.
      { at: 12_000, expect: [true, 4, 2000, 0] },
      { at: 60_000, expect: [true, 4, 2000, 0] },
      { at: 60_000, expect: [true, 3, 4000, 0] },
    ],
  },
  {
    name: 'burst below the limit: 2 at once, then one per second',
    rule: rule({ algorithm: 'gcra', limit: 10, windowMs: 10_000, burst: 2 }),
    steps: [
      { at: 0, expect: [true, 1, 1000, 0] },
      { at: 0, expect: [true, 0, 2000, 0] },
      { at: 0, expect: [false, 0, 2000, 1000] },
      { at: 500, expect: [false, 0, 1500, 500] },
      { at: 1000, expect: [true, 0, 2000, 0] },
      { at: 1500, expect: [false, 0, 1500, 500] },
      { at: 3000, expect: [true, 1, 1000, 0] },
    ],
  },
  {
    name: 'fractional emission interval (10 s / 3) neither drifts nor rounds a request away',
    rule: rule({ algorithm: 'gcra', limit: 3, windowMs: 10_000 }),
    steps: [
      { at: 0, expect: [true, 2, 3334, 0] },
      { at: 0, expect: [true, 1, 6667, 0] },
      { at: 0, expect: [true, 0, 10_000, 0] },
      { at: 0, expect: [false, 0, 10_000, 3334] },
      { at: 3333, expect: [false, 0, 6667, 1] },
      { at: 3334, expect: [true, 0, 10_000, 0] },
      { at: 6667, expect: [true, 0, 10_000, 0] },
      { at: 10_000, expect: [true, 0, 10_000, 0] },
      { at: 10_000, expect: [false, 0, 10_000, 3334] },
    ],
  },
  {
    name: 'limit 1',
    rule: rule({ algorithm: 'gcra', limit: 1, windowMs: 10_000 }),
    steps: [
      { at: 0, expect: [true, 0, 10_000, 0] },
      { at: 9999, expect: [false, 0, 1, 1] },
      { at: 10_000, expect: [true, 0, 10_000, 0] },
    ],
  },
];

export const SLIDING_WINDOW_CASES: readonly RateLimitCase[] = [
  {
    name: 'limit 4 per 10 s: the previous window weighs by its overlap',
    rule: rule({ algorithm: 'sliding-window', limit: 4, windowMs: 10_000 }),
    steps: [
      { at: 0, expect: [true, 3, 20_000, 0] },
      { at: 0, expect: [true, 2, 20_000, 0] },
      { at: 0, expect: [true, 1, 20_000, 0] },
      { at: 0, expect: [true, 0, 20_000, 0] },
      // This window alone is full: wait until the next window has decayed it to 3.
      { at: 0, expect: [false, 0, 20_000, 12_500] },
      { at: 5000, expect: [false, 0, 15_000, 7500] },
      { at: 5000, key: 'other', expect: [true, 3, 15_000, 0] },
      // 2.5 s into the next window: 4 × 0.75 = 3 counted, one more fits.
      { at: 12_500, expect: [true, 0, 17_500, 0] },
      // Now 3 + 1: wait until the previous share has decayed to 2.
      { at: 12_500, expect: [false, 0, 17_500, 2500] },
      { at: 14_999, expect: [false, 0, 15_001, 1] },
      { at: 15_000, expect: [true, 0, 15_000, 0] },
      // Two windows later nothing counts any more.
      { at: 30_000, expect: [true, 3, 20_000, 0] },
    ],
  },
  {
    name: 'limit 1 per 10 s',
    rule: rule({ algorithm: 'sliding-window', limit: 1, windowMs: 10_000 }),
    steps: [
      { at: 0, expect: [true, 0, 20_000, 0] },
      { at: 1, expect: [false, 0, 19_999, 19_999] },
      // Next window: the previous one still counts fully at its very start.
      { at: 10_000, expect: [false, 0, 10_000, 10_000] },
      { at: 19_999, expect: [false, 0, 1, 1] },
      { at: 20_000, expect: [true, 0, 20_000, 0] },
    ],
  },
  {
    name: 'limit 3 per 60 s, requests spread over windows',
    rule: rule({ algorithm: 'sliding-window', limit: 3, windowMs: 60_000 }),
    steps: [
      { at: 50_000, expect: [true, 2, 70_000, 0] },
      { at: 55_000, expect: [true, 1, 65_000, 0] },
      { at: 59_000, expect: [true, 0, 61_000, 0] },
      // This window holds 3: wait until the next one has decayed them to 2 (20 s into it).
      { at: 59_999, expect: [false, 0, 60_001, 20_001] },
      // 20 s into the next window: 3 × 40/60 = 2 counted.
      { at: 80_000, expect: [true, 0, 100_000, 0] },
      { at: 90_000, expect: [false, 0, 90_000, 10_000] },
      { at: 100_000, expect: [true, 0, 80_000, 0] },
    ],
  },
];

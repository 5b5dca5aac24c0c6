import { describe, expect, it } from 'vitest';
import { createSlidingWindowCounter } from './sliding-window-counter.js';

const T0 = 1_700_000_000_000;

describe('createSlidingWindowCounter', () => {
  it('counts per key within the span; old buckets slide out', () => {
    const counter = createSlidingWindowCounter({ spanMs: 10_000, bucketMs: 1000, maxKeys: 10 });
    for (let i = 0; i < 5; i++) expect(counter.add('a', T0 + i * 1000)).toBe(i + 1);
    expect(counter.add('b', T0)).toBe(1);
    expect(counter.sum('a', T0 + 9_999)).toBe(5);
    // Buckets of T0 and T0+1s have left the ten-bucket ring.
    expect(counter.sum('a', T0 + 11_000)).toBe(3);
    expect(counter.sum('a', T0 + 60_000)).toBe(0);
    expect(counter.add('a', T0 + 60_000, 2)).toBe(2);
    expect(counter.sum('b', T0 + 1000)).toBe(1);
    expect(counter.sum('nobody', T0)).toBe(0);
  });

  it('sums the last part of the span (a baseline and its current window)', () => {
    const counter = createSlidingWindowCounter({ spanMs: 60_000, bucketMs: 1000, maxKeys: 1 });
    for (let s = 0; s < 60; s++) counter.add('', T0 + s * 1000);
    expect(counter.sum('', T0 + 59_000)).toBe(60);
    expect(counter.sum('', T0 + 59_000, 10_000)).toBe(10);
    expect(counter.sum('', T0 + 59_000, 1)).toBe(1);
    expect(counter.sum('', T0 + 59_000, 120_000)).toBe(60);
  });

  it('time going backwards counts into the newest bucket', () => {
    const counter = createSlidingWindowCounter({ spanMs: 5000, bucketMs: 1000, maxKeys: 1 });
    counter.add('k', T0 + 3000);
    expect(counter.add('k', T0)).toBe(2);
    expect(counter.sum('k', T0 + 7000)).toBe(2);
    expect(counter.sum('k', T0 + 8000)).toBe(0);
  });

  it('keeps at most maxKeys keys, and delete forgets one', () => {
    const counter = createSlidingWindowCounter({ spanMs: 1000, bucketMs: 100, maxKeys: 50 });
    for (let i = 0; i < 5000; i++) counter.add(`ip-${i}`, T0 + i);
    expect(counter.size).toBe(50);
    expect([...counter.keys()][49]).toBe('ip-4999');
    counter.delete('ip-4999');
    expect(counter.sum('ip-4999', T0 + 5000)).toBe(0);
    expect(() => createSlidingWindowCounter({ spanMs: 10, bucketMs: 100, maxKeys: 1 })).toThrow(RangeError);
    expect(() => createSlidingWindowCounter({ spanMs: 10, bucketMs: 0, maxKeys: 1 })).toThrow(RangeError);
  });
});

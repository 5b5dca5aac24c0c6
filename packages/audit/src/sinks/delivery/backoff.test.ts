import { describe, expect, it } from 'vitest';
import { fullJitterDelay } from './backoff.js';

describe('fullJitterDelay', () => {
  it('draws below a ceiling that doubles per failure up to the cap', () => {
    const top = () => 0.999999;
    expect([1, 2, 3, 4, 5, 6].map((n) => fullJitterDelay(n, 100, 1000, top))).toEqual([
      99, 199, 399, 799, 999, 999,
    ]);
  });

  it('can be as short as zero (full jitter)', () => {
    expect(fullJitterDelay(5, 100, 1000, () => 0)).toBe(0);
  });

  it('stays finite after very many failures', () => {
    expect(fullJitterDelay(10_000, 100, 60_000, () => 0.5)).toBe(30_000);
  });
});

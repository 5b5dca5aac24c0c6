import { describe, expect, it } from 'vitest';
import { createDistinctWindowCounter } from './distinct-window-counter.js';

const T0 = 1_700_000_000_000;

describe('createDistinctWindowCounter', () => {
  it('counts distinct values per key in the window', () => {
    const counter = createDistinctWindowCounter({
      windowMs: 10_000,
      limit: 100,
      maxKeys: 10,
      maxValues: 1000,
    });
    expect(counter.add('alice', '/a/1', T0)).toBe(1);
    expect(counter.add('alice', '/a/1', T0 + 1)).toBe(1);
    expect(counter.add('alice', '/a/2', T0 + 2)).toBe(2);
    expect(counter.add('bob', '/a/1', T0 + 3)).toBe(1);
    expect(counter.count('alice', T0 + 9_999)).toBe(2);
    expect(counter.values('alice', T0 + 5000)).toEqual(['/a/1', '/a/2']);
    // Both alice values leave the window.
    expect(counter.count('alice', T0 + 10_003)).toBe(0);
    expect(counter.count('nobody', T0)).toBe(0);
    expect(counter.values('nobody', T0)).toEqual([]);
  });

  it('a value seen again stays in the window', () => {
    const counter = createDistinctWindowCounter({ windowMs: 1600, limit: 10, maxKeys: 1, maxValues: 10 });
    counter.add('k', 'old', T0);
    counter.add('k', 'kept', T0);
    counter.add('k', 'kept', T0 + 1000);
    expect(counter.values('k', T0 + 1700)).toEqual(['kept']);
    expect(counter.count('k', T0 + 2601)).toBe(0);
  });

  it('stops storing at the limit: the threshold is all a detector needs', () => {
    const counter = createDistinctWindowCounter({ windowMs: 60_000, limit: 5, maxKeys: 10, maxValues: 1000 });
    for (let i = 0; i < 1000; i++) counter.add('scraper', `/items/${i}`, T0 + i);
    expect(counter.count('scraper', T0 + 1000)).toBe(5);
    expect(counter.stored).toBe(5);
    counter.delete('scraper');
    expect(counter.stored).toBe(0);
    expect(counter.size).toBe(0);
    counter.delete('scraper');
  });

  it('bounds the values over all keys, forgetting the least recently used keys', () => {
    const counter = createDistinctWindowCounter({
      windowMs: 60_000,
      limit: 10,
      maxKeys: 1000,
      maxValues: 50,
    });
    for (let key = 0; key < 100; key++)
      for (let v = 0; v < 10; v++) counter.add(`token-${key}`, `ip-${v}`, T0 + key);
    expect(counter.stored).toBeLessThanOrEqual(50);
    expect(counter.size).toBe(5);
    expect(counter.count('token-99', T0 + 100)).toBe(10);
    expect([...counter.keys()]).toEqual(['token-95', 'token-96', 'token-97', 'token-98', 'token-99']);
  });

  it('bounds the keys', () => {
    const counter = createDistinctWindowCounter({
      windowMs: 60_000,
      limit: 10,
      maxKeys: 20,
      maxValues: 1000,
    });
    for (let key = 0; key < 500; key++) counter.add(`ip-${key}`, 'token', T0);
    expect(counter.size).toBe(20);
    expect(counter.stored).toBe(20);
  });

  it('refuses settings that cannot work', () => {
    const base = { windowMs: 1000, limit: 1, maxKeys: 1, maxValues: 1 };
    expect(() => createDistinctWindowCounter({ ...base, windowMs: 0 })).toThrow(RangeError);
    expect(() => createDistinctWindowCounter({ ...base, limit: 0 })).toThrow(RangeError);
    expect(() => createDistinctWindowCounter({ ...base, maxValues: 1.5 })).toThrow(RangeError);
  });
});

describe('createDistinctWindowCounter, the same value again', () => {
  it('answers from the last value without losing expiry or distinctness', () => {
    const counter = createDistinctWindowCounter({ windowMs: 16_000, limit: 10, maxKeys: 1, maxValues: 10 });
    expect(counter.add('k', 'a', T0)).toBe(1);
    expect(counter.add('k', 'a', T0 + 10)).toBe(1);
    expect(counter.add('k', 'b', T0 + 20)).toBe(2);
    expect(counter.add('k', 'b', T0 + 30)).toBe(2);
    expect(counter.add('k', 'a', T0 + 40)).toBe(2);
    // Well after the window: both gone, then counted afresh.
    expect(counter.add('k', 'a', T0 + 16_050)).toBe(1);
    expect(counter.values('k', T0 + 16_050)).toEqual(['a']);
  });
});

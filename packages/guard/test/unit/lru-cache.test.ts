import { describe, expect, it } from 'vitest';
import { LruCache } from '../../src/cache/lru-cache.js';

describe('LruCache', () => {
  it('stores, reads, deletes and clears', () => {
    const cache = new LruCache<string, number>(3);
    expect(cache.maxEntries).toBe(3);
    expect(cache.size).toBe(0);
    expect(cache.get('a')).toBeUndefined();
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1);
    expect(cache.size).toBe(2);
    cache.delete('a');
    cache.delete('missing');
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(1);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.get('b')).toBeUndefined();
  });

  it('evicts the least recently set entry when full', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    expect(cache.size).toBe(2);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBe(2);
    expect(cache.get('c')).toBe(3);
  });

  it('a read makes an entry the most recently used', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.get('a');
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
  });

  it('overwriting an entry refreshes it without evicting another', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('a', 10);
    expect(cache.size).toBe(2);
    expect(cache.get('b')).toBe(2);
    cache.set('c', 3); // a was refreshed before b was read: a goes
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBe(2);
    expect(cache.get('c')).toBe(3);
  });

  it('a miss does not change the order', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.get('zzz');
    cache.set('c', 3);
    expect(cache.get('a')).toBeUndefined();
  });

  it('holds exactly maxEntries entries under churn', () => {
    const cache = new LruCache<number, number>(100);
    for (let i = 0; i < 1000; i++) cache.set(i, i);
    expect(cache.size).toBe(100);
    expect(cache.get(899)).toBeUndefined();
    expect(cache.get(900)).toBe(900);
    expect(cache.get(999)).toBe(999);
  });

  it('one entry of room keeps only the last', () => {
    const cache = new LruCache<string, string>(1);
    cache.set('a', 'x');
    cache.set('b', 'y');
    expect(cache.size).toBe(1);
    expect(cache.get('b')).toBe('y');
  });

  it('reading the most recent entry again keeps the order (the skipped touch)', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('b')).toBe(2);
    expect(cache.get('b')).toBe(2);
    cache.set('c', 3); // a is still the oldest
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBe(2);
  });

  it('a deleted or cleared newest entry is touched normally when it comes back', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.delete('b');
    cache.set('b', 2);
    cache.set('c', 3); // evicts a
    expect(cache.get('a')).toBeUndefined();
    cache.clear();
    cache.set('x', 1);
    cache.set('y', 2);
    expect(cache.get('x')).toBe(1);
    cache.set('z', 3); // evicts y: x was read after it
    expect(cache.get('y')).toBeUndefined();
    expect(cache.get('x')).toBe(1);
  });

  it('with no room, an entry is evicted as soon as it is set', () => {
    const cache = new LruCache<string, number>(0);
    cache.set('a', 1);
    expect(cache.size).toBe(0);
    expect(cache.get('a')).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { LruCache } from './lru-cache.js';

const keysOf = (cache: LruCache<string, number>, candidates: readonly string[]): string[] =>
  candidates.filter((key) => cache.get(key) !== undefined);

describe('LruCache', () => {
  it('evicts the least recently used entry, counting reads as use', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1); // a is now the most recent
    cache.set('c', 3); // evicts b
    expect(cache.get('b')).toBeUndefined();
    expect(cache.size).toBe(2);
  });

  it('reading the most recent entry again keeps the order (the skipped touch)', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('b')).toBe(2);
    expect(cache.get('b')).toBe(2);
    cache.set('c', 3); // a is still the oldest
    expect(keysOf(cache, ['a', 'b', 'c'])).toEqual(['b', 'c']);
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
    expect(cache.size).toBe(0);
    cache.set('x', 1);
    cache.set('y', 2);
    expect(cache.get('x')).toBe(1);
    cache.set('z', 3); // evicts y, since x was read after it
    expect(keysOf(cache, ['x', 'y', 'z'])).toEqual(['x', 'z']);
  });

  it('with no room, an entry is evicted as soon as it is set', () => {
    const cache = new LruCache<string, number>(0);
    cache.set('a', 1);
    expect(cache.size).toBe(0);
    expect(cache.get('a')).toBeUndefined();
    cache.set('b', 2);
    expect(cache.get('b')).toBeUndefined();
  });

  it('deleting another key leaves the newest alone', () => {
    const cache = new LruCache<string, number>(3);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.delete('a');
    expect(cache.get('b')).toBe(2);
    expect(cache.size).toBe(1);
  });
});

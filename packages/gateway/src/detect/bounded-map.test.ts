import { describe, expect, it } from 'vitest';
import { createBoundedMap } from './bounded-map.js';

describe('createBoundedMap', () => {
  it('forgets the least recently used key past maxKeys', () => {
    const evicted: string[] = [];
    const map = createBoundedMap<number>({ maxKeys: 3, touchMs: 0, onEvict: (key) => evicted.push(key) });
    map.set('a', 1, 0);
    map.set('b', 2, 1);
    map.set('c', 3, 2);
    expect(map.get('a', 3)).toBe(1); // a is now the most recent
    map.set('d', 4, 4);
    expect(evicted).toEqual(['b']);
    expect([...map.entries()].map(([key]) => key)).toEqual(['c', 'a', 'd']);
    expect(map.size).toBe(3);
    expect(map.evictions).toBe(1);
  });

  it('refreshes recency at most once per touchMs (a hot key costs one lookup)', () => {
    const map = createBoundedMap<number>({ maxKeys: 2, touchMs: 100 });
    map.set('a', 1, 0);
    map.set('b', 2, 0);
    map.get('a', 50); // too soon: a stays the oldest
    map.set('c', 3, 60);
    expect(map.peek('a')).toBeUndefined();
    map.get('b', 200); // long enough: b moves behind c
    map.set('d', 4, 201);
    expect(map.peek('c')).toBeUndefined();
    expect(map.peek('b')).toBe(2);
  });

  it('a rotating attacker cannot grow it, and peek leaves the order alone', () => {
    const map = createBoundedMap<number>({ maxKeys: 100, touchMs: 0 });
    for (let i = 0; i < 10_000; i++) map.set(`key-${i}`, i, i);
    expect(map.size).toBe(100);
    expect(map.evictions).toBe(9900);
    const first = [...map.entries()][0]?.[0];
    map.peek(first ?? '');
    expect([...map.entries()][0]?.[0]).toBe(first);
  });

  it('evictOldest keeps the key it is told to keep', () => {
    const map = createBoundedMap<number>({ maxKeys: 5, touchMs: 0 });
    map.set('only', 1, 0);
    expect(map.evictOldest('only')).toBe(false);
    expect(map.evictOldest()).toBe(true);
    expect(map.size).toBe(0);
    expect(map.delete('none')).toBe(false);
    expect(() => createBoundedMap({ maxKeys: 0, touchMs: 0 })).toThrow(RangeError);
  });
});

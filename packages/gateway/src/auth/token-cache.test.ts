import { describe, expect, it } from 'vitest';
import { ExpiryCache, TokenCache, type RevocableEntry } from './token-cache.js';

interface Entry extends RevocableEntry {
  readonly value: string;
  readonly expiresAtMs: number;
}
const entry = (value: string, extra: Partial<Entry> = {}): Entry => ({
  value,
  jtis: [],
  sub: undefined,
  sid: undefined,
  issuedAt: undefined,
  expiresAtMs: Number.MAX_SAFE_INTEGER,
  ...extra,
});

describe('TokenCache', () => {
  it('evicts the least recently used entry beyond maxEntries, with its jti index', () => {
    const cache = new TokenCache<Entry>(2);
    cache.set('a', entry('A', { jtis: ['ja'] }));
    cache.set('b', entry('B', { jtis: ['jb'] }));
    expect(cache.get('a')?.value).toBe('A'); // a is now the most recent
    cache.set('c', entry('C'));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.size).toBe(2);
    expect(cache.evictJti('jb')).toBe(0);
    expect(cache.evictJti('ja')).toBe(1);
    expect(cache.get('a')).toBeUndefined();
  });

  it('keeps the recency order when the most recent entry is read again and again, or removed', () => {
    const cache = new TokenCache<Entry>(2);
    cache.set('a', entry('A'));
    cache.set('b', entry('B'));
    expect(cache.get('b')?.value).toBe('B');
    expect(cache.get('b')?.value).toBe('B');
    cache.set('c', entry('C')); // a is the least recent
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')?.value).toBe('B'); // b is now the most recent, then c
    expect(cache.delete('b')).toBe(true);
    cache.set('d', entry('D'));
    expect(cache.get('c')?.value).toBe('C'); // c moves behind d
    cache.set('e', entry('E')); // d is the least recent now
    expect(cache.get('d')).toBeUndefined();
    expect(cache.get('c')?.value).toBe('C');
    cache.clear();
    cache.set('c', entry('C2'));
    expect(cache.get('c')?.value).toBe('C2');
  });

  it('evicts every entry a jti covers (a subject token exchanged for several audiences)', () => {
    const cache = new TokenCache<Entry>(10);
    cache.set('t audience-1', entry('1', { jtis: ['parent', 'child-1'] }));
    cache.set('t audience-2', entry('2', { jtis: ['parent', 'child-2'] }));
    cache.set('other', entry('3', { jtis: ['other'] }));
    expect(cache.evictJti('child-2')).toBe(1);
    expect(cache.evictJti('parent')).toBe(1);
    expect(cache.evictJti('parent')).toBe(0);
    expect(cache.size).toBe(1);
  });

  it('replacing an entry re-indexes it', () => {
    const cache = new TokenCache<Entry>(10);
    cache.set('k', entry('old', { jtis: ['j1'] }));
    cache.set('k', entry('new', { jtis: ['j2'] }));
    expect(cache.evictJti('j1')).toBe(0);
    expect(cache.get('k')?.value).toBe('new');
    expect(cache.evictJti('j2')).toBe(1);
    expect(cache.delete('k')).toBe(false);
  });

  it('evictWhere selects by any field; clear empties everything', () => {
    const cache = new TokenCache<Entry>(10);
    cache.set('a', entry('A', { sub: 'alice', sid: 's1', jtis: ['x'] }));
    cache.set('b', entry('B', { sub: 'bob', sid: 's2' }));
    expect(cache.evictWhere((e) => e.sub === 'alice')).toBe(1);
    expect(cache.evictJti('x')).toBe(0);
    expect(cache.size).toBe(1);
    cache.clear();
    expect(cache.size).toBe(0);
  });
});

describe('sweepExpired', () => {
  it('drops the entries of expired tokens, with their jti index, and keeps the live ones', () => {
    const cache = new TokenCache<Entry>(10);
    cache.set('old', entry('O', { jtis: ['jo'], expiresAtMs: 1000 }));
    cache.set('live', entry('L', { jtis: ['jl'], expiresAtMs: 5000 }));
    cache.set('edge', entry('E', { expiresAtMs: 2000 }));
    expect(cache.sweepExpired(2000)).toBe(2);
    expect(cache.size).toBe(1);
    expect(cache.get('live')?.value).toBe('L');
    expect(cache.evictJti('jo')).toBe(0);
    expect(cache.sweepExpired(2000)).toBe(0);
  });

  it('drops expired negative entries too', () => {
    const cache = new ExpiryCache<string>(10);
    cache.set('a', 'x', 1000);
    cache.set('b', 'y', 3000);
    expect(cache.sweepExpired(1000)).toBe(1);
    expect(cache.size).toBe(1);
    expect(cache.get('b', 1000)).toBe('y');
  });
});

describe('ExpiryCache', () => {
  it('answers until the expiry, then forgets', () => {
    const cache = new ExpiryCache<string>(10);
    cache.set('k', 'v', 1000);
    expect(cache.get('k', 999)).toBe('v');
    expect(cache.get('k', 1000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('is bounded (oldest first) and supports delete and clear', () => {
    const cache = new ExpiryCache<number>(2);
    cache.set('a', 1, 10);
    cache.set('b', 2, 10);
    cache.set('c', 3, 10);
    expect(cache.get('a', 0)).toBeUndefined();
    expect(cache.get('b', 0)).toBe(2);
    cache.delete('b');
    expect(cache.get('b', 0)).toBeUndefined();
    cache.clear();
    expect(cache.size).toBe(0);
  });
});

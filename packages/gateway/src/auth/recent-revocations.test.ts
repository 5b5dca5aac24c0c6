import { describe, expect, it } from 'vitest';
import { RecentRevocations } from './recent-revocations.js';
import type { RevocableEntry } from './token-cache.js';

const entry = (extra: Partial<RevocableEntry>): RevocableEntry => ({
  jtis: [],
  sub: undefined,
  sid: undefined,
  issuedAt: undefined,
  ...extra,
});

describe('RecentRevocations', () => {
  it('covers revoked jtis, sessions and subjects, for the retention only', () => {
    let now = 1_000_000;
    const list = new RecentRevocations(10_000, () => now);
    expect(list.covers(entry({ jtis: ['j'] }))).toBe(false);
    list.add({ jti: 'j', exp: undefined });
    list.add({ sid: 's' });
    list.add({ sub: 'u', issuedBefore: 1000 });
    list.add({ kid: 'k' }); // keys are handled by the verifier, not here
    expect(list.size).toBe(3);
    expect(list.covers(entry({ jtis: ['other', 'j'] }))).toBe(true);
    expect(list.covers(entry({ sid: 's' }))).toBe(true);
    expect(list.covers(entry({ sub: 'u', issuedAt: 1000 }))).toBe(true);
    expect(list.covers(entry({ sub: 'u' }))).toBe(true); // no iat: cannot prove it is newer
    expect(list.covers(entry({ sub: 'u', issuedAt: 1001 }))).toBe(false);
    expect(list.covers(entry({ sub: 'v', sid: 't', jtis: ['x'] }))).toBe(false);
    now += 10_000;
    expect(list.covers(entry({ jtis: ['j'], sid: 's', sub: 'u' }))).toBe(false);
    list.prune();
    expect(list.size).toBe(0);
  });

  it('keeps the latest cut of a subject', () => {
    const list = new RecentRevocations(10_000, () => 0);
    list.add({ sub: 'u', issuedBefore: 2000 });
    list.add({ sub: 'u', issuedBefore: 1000 });
    expect(list.covers(entry({ sub: 'u', issuedAt: 1500 }))).toBe(true);
  });

  it('prunes expired entries as it is written to', () => {
    let now = 0;
    const list = new RecentRevocations(10, () => now);
    for (let i = 0; i < 255; i++) list.add({ jti: `j${i}`, exp: undefined });
    now = 100;
    list.add({ jti: 'last', exp: undefined });
    expect(list.size).toBe(1);
  });
});

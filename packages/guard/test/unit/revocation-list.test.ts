import { describe, expect, it } from 'vitest';
import { RevocationList } from '../../src/revocation/revocation-list.js';
import { NOW } from '../helpers/tokens.js';
import { TestClock, principal } from './support.js';

const RETENTION_SEC = 600;

function setup(): { list: RevocationList; clock: TestClock } {
  const clock = new TestClock();
  return { list: new RevocationList(RETENTION_SEC, clock.now), clock };
}

describe('RevocationList', () => {
  it('covers by jti, sid and sub, and nothing else', () => {
    const { list } = setup();
    expect(list.covers(principal({ jti: 'j1', sid: 's1' }))).toBe(false);
    list.add({ jti: 'j1' });
    list.add({ sid: 's1' });
    list.add({ sub: 'revoked-user' });
    expect(list.size).toBe(3);
    expect(list.covers(principal({ jti: 'j1' }))).toBe(true);
    expect(list.covers(principal({ sid: 's1' }))).toBe(true);
    expect(list.covers(principal({ sub: 'revoked-user' }))).toBe(true);
    expect(list.covers(principal({ jti: 'j2', sid: 's2' }))).toBe(false);
    // A principal without jti or sid is not covered by jti/sid entries.
    expect(list.covers(principal())).toBe(false);
  });

  it('a subject revocation covers tokens issued at or before its cut-off only', () => {
    const { list } = setup();
    list.add({ sub: 'u', issuedBefore: NOW });
    expect(list.covers(principal({ sub: 'u', issuedAt: NOW - 1 }))).toBe(true);
    expect(list.covers(principal({ sub: 'u', issuedAt: NOW }))).toBe(true);
    expect(list.covers(principal({ sub: 'u', issuedAt: NOW + 1 }))).toBe(false);
    // No iat: it cannot prove it came later.
    expect(list.covers(principal({ sub: 'u', issuedAt: undefined }))).toBe(true);
  });

  it('the cut-off defaults to now (epoch seconds) and only ever moves later', () => {
    const { list, clock } = setup();
    list.add({ sub: 'u' });
    expect(list.covers(principal({ sub: 'u', issuedAt: NOW }))).toBe(true);
    expect(list.covers(principal({ sub: 'u', issuedAt: NOW + 1 }))).toBe(false);
    list.add({ sub: 'u', issuedBefore: NOW - 500 });
    expect(list.covers(principal({ sub: 'u', issuedAt: NOW }))).toBe(true);
    clock.advanceSec(100);
    list.add({ sub: 'u' });
    expect(list.covers(principal({ sub: 'u', issuedAt: NOW + 100 }))).toBe(true);
    expect(list.size).toBe(1);
  });

  it('prune() drops entries once their retention has passed, and keeps the rest', () => {
    const { list, clock } = setup();
    list.add({ jti: 'old' });
    list.add({ sid: 'old' });
    list.add({ sub: 'old' });
    clock.advanceSec(RETENTION_SEC / 2);
    list.add({ jti: 'new' });

    clock.advanceSec(RETENTION_SEC / 2 - 1);
    list.prune();
    expect(list.size).toBe(4);

    clock.advanceSec(1); // the first three reach their retention
    list.prune();
    expect(list.size).toBe(1);
    expect(list.covers(principal({ jti: 'old', sid: 'old', sub: 'old' }))).toBe(false);
    expect(list.covers(principal({ jti: 'new' }))).toBe(true);

    clock.advanceSec(RETENTION_SEC);
    list.prune();
    expect(list.size).toBe(0);
  });

  it('a repeated revocation renews the retention', () => {
    const { list, clock } = setup();
    list.add({ sub: 'u' });
    clock.advanceSec(RETENTION_SEC - 1);
    list.add({ sub: 'u' });
    clock.advanceSec(2);
    list.prune();
    expect(list.size).toBe(1);
  });

  it('prunes by itself every 1024 writes', () => {
    const { list, clock } = setup();
    list.add({ jti: 'expired' });
    clock.advanceSec(RETENTION_SEC);
    for (let i = 1; i < 1023; i++) list.add({ jti: `j${String(i)}` });
    expect(list.size).toBe(1023);
    list.add({ jti: 'j1023' }); // the 1024th write
    expect(list.size).toBe(1023);
    expect(list.covers(principal({ jti: 'expired' }))).toBe(false);
  });
});

import type { RevocationTarget } from '@gatehouse/guard';
import { describe, expect, it } from 'vitest';
import { MAX_TOKEN_AGE_MS, RevokedTargets } from './revoked-targets.js';

const targets = (list: RevokedTargets): RevocationTarget[] => {
  const out: RevocationTarget[] = [];
  list.forEach((target) => out.push(target));
  return out;
};

describe('RevokedTargets', () => {
  it('hands back every jti, session and subject revocation still in force', () => {
    let now = 1_000_000_000;
    const list = new RevokedTargets(MAX_TOKEN_AGE_MS, () => now);
    list.add({ jti: 'short', exp: now / 1000 + 60 });
    list.add({ jti: 'no-exp', exp: undefined });
    list.add({ sid: 's' });
    list.add({ sub: 'u', issuedBefore: 1000 });
    list.add({ sub: 'u', issuedBefore: 900 }); // an older cut never moves the newer one back
    list.add({ kid: 'k' }); // a key is not a JWT target: the new verifier reads the key set
    expect(list.size).toBe(4);
    expect(targets(list)).toEqual([
      { jti: 'short' },
      { jti: 'no-exp' },
      { sid: 's' },
      { sub: 'u', issuedBefore: 1000 },
    ]);
    // Past the token's exp (and guard's tolerance), its jti no longer matters.
    now += 91_000;
    expect(targets(list)).toEqual([{ jti: 'no-exp' }, { sid: 's' }, { sub: 'u', issuedBefore: 1000 }]);
    // Past the longest token age, nothing does.
    now += MAX_TOKEN_AGE_MS;
    expect(targets(list)).toEqual([]);
    expect(list.size).toBe(0);
  });

  it('prunes as it goes, so a steady stream of revocations stays bounded', () => {
    let now = 0;
    const list = new RevokedTargets(1000, () => now);
    for (let i = 0; i < 1024; i++) {
      list.add({ jti: `j${i}`, exp: undefined });
      now += 10;
    }
    // Only the last second of revocations (100) plus at most one pruning period (256) remain.
    expect(list.size).toBeLessThanOrEqual(356);
    expect(list.size).toBeGreaterThanOrEqual(100);
  });
});

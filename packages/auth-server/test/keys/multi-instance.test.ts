import { isGatehouseError } from '@gatehouse/core';
import { afterEach, expect, it } from 'vitest';
import { describeEachStore, TestClock } from '../helpers/harness.js';
import { claimsAt, openSharedKeyStore, transitions, type SharedKeyStore } from '../helpers/signing-keys.js';

const HOUR = 3600;
const DAY = 86_400;

/** How often each `kid: reason` transition was audited, across every instance. */
function tally(store: SharedKeyStore): Map<string, number> {
  const counts = new Map<string, number>();
  for (const entry of store.instances.flatMap((i) => transitions(i.audit))) {
    counts.set(entry, (counts.get(entry) ?? 0) + 1);
  }
  return counts;
}

describeEachStore('two instances on one database', (stores) => {
  let store: SharedKeyStore | undefined;
  afterEach(async () => {
    await store?.release();
    store = undefined;
  });

  it('tick concurrently for 40 days: every generation created once, every key promoted once', async () => {
    const clock = new TestClock();
    store = await openSharedKeyStore({
      stores,
      clock,
      count: 2,
      config: {
        keys: {
          rotationIntervalSec: 2 * DAY,
          prePublishSec: 12 * HOUR,
          jwksMaxAgeSec: 300,
          checkIntervalSec: HOUR,
        },
      },
    });
    const [a, b] = store.instances as [SharedKeyStore['instances'][0], SharedKeyStore['instances'][0]];
    const db = store.db;
    const breaks: string[] = [];
    // Both instances start at the same moment on an empty database: one first key.
    await Promise.all([a.keys.tick(), b.keys.tick()]);
    for (let step = 1; step <= 40 * 24; step++) {
      clock.advance(HOUR);
      // Ticks and signatures (which tick by themselves when a key is due) race on both instances.
      const [, , signedA, signedB] = await Promise.all([
        a.keys.tick(),
        b.keys.tick(),
        a.keys.sign(claimsAt(clock, 300), 'at+jwt'),
        b.keys.sign(claimsAt(clock, 300), 'at+jwt'),
      ]);
      const keys = await db.selectFrom('signing_keys').select(['kid', 'status']).execute();
      const active = keys.filter((k) => k.status === 'active');
      const pending = keys.filter((k) => k.status === 'pending');
      if (active.length !== 1 || pending.length > 1) {
        breaks.push(`step ${step}: ${active.length} active, ${pending.length} pending`);
      }
      // Each signature used a key that is published (active, or just demoted and still published).
      for (const signed of [signedA, signedB]) {
        const status = keys.find((k) => k.kid === signed.kid)?.status;
        if (status !== 'active' && status !== 'retiring')
          breaks.push(`step ${step}: signed with a ${status} key`);
      }
    }
    expect(breaks.slice(0, 10)).toEqual([]);

    const rows = await db.selectFrom('signing_keys').selectAll().orderBy('generation').execute();
    expect(rows.length).toBeGreaterThanOrEqual(20);
    expect(rows.map((r) => r.generation)).toEqual(rows.map((_r, i) => i + 1));
    const counts = tally(store);
    const [first, ...successors] = rows as [(typeof rows)[0], ...typeof rows];
    expect(counts.get(`${first.kid}: created active`)).toBe(1);
    for (const row of successors) {
      expect(counts.get(`${row.kid}: created pending`), row.kid).toBe(1);
      if (row.status !== 'pending') expect(counts.get(`${row.kid}: pending -> active`), row.kid).toBe(1);
    }
    for (const row of rows.filter((r) => r.status === 'retiring' || r.status === 'retired')) {
      expect(counts.get(`${row.kid}: active -> retiring`), row.kid).toBe(1);
    }
    for (const row of rows.filter((r) => r.status === 'retired')) {
      expect(counts.get(`${row.kid}: retiring -> retired`), row.kid).toBe(1);
    }
    // No audit event that does not match a row, and nothing went wrong on either instance.
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect([...a.errors, ...b.errors]).toEqual([]);
  }, 120_000);

  it('concurrent `keys rotate` on both instances creates one successor', async () => {
    const clock = new TestClock();
    store = await openSharedKeyStore({ stores, clock, count: 2 });
    const [a, b] = store.instances as [SharedKeyStore['instances'][0], SharedKeyStore['instances'][0]];
    await a.keys.tick();
    const [fromA, fromB] = await Promise.all([a.keys.rotate(), b.keys.rotate()]);
    expect(fromA.kid).toBe(fromB.kid);
    const pending = await store.db
      .selectFrom('signing_keys')
      .select('kid')
      .where('status', '=', 'pending')
      .execute();
    expect(pending).toEqual([{ kid: fromA.kid }]);
    expect(tally(store).get(`${fromA.kid}: created pending`)).toBe(1);
  });

  it('concurrent emergency rotations of the active key: one revokes, the other is refused, one new key', async () => {
    const clock = new TestClock();
    store = await openSharedKeyStore({ stores, clock, count: 2 });
    const [a, b] = store.instances as [SharedKeyStore['instances'][0], SharedKeyStore['instances'][0]];
    await Promise.all([a.keys.tick(), b.keys.tick()]);
    const { kid: compromised } = await a.keys.sign(claimsAt(clock, 300), 'at+jwt');
    const outcomes = await Promise.allSettled([
      a.keys.rotateEmergency(compromised),
      b.keys.rotateEmergency(compromised),
    ]);
    const fulfilled = outcomes.filter((o) => o.status === 'fulfilled');
    const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(fulfilled).toHaveLength(1);
    expect(rejected).toHaveLength(1);
    expect(isGatehouseError(rejected[0]?.reason) && rejected[0].reason.code).toBe('ERR_CONFIG_INVALID');
    const rows = await store.db.selectFrom('signing_keys').select(['kid', 'status']).execute();
    expect(rows.filter((r) => r.status === 'active')).toHaveLength(1);
    expect(rows.find((r) => r.kid === compromised)?.status).toBe('revoked');
    // Both instances sign with the new key (the refused one reloaded too).
    const [signedA, signedB] = await Promise.all([
      a.keys.sign(claimsAt(clock, 300), 'at+jwt'),
      b.keys.sign(claimsAt(clock, 300), 'at+jwt'),
    ]);
    expect(signedA.kid).not.toBe(compromised);
    expect(signedB.kid).toBe(signedA.kid);
  });
});

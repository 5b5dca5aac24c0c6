import { createAuditStore, verifyAuditLog, type AuditStore } from '@gatehouse/audit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createTestKey,
  ENGINES,
  openBacking,
  rawSigner,
  resolverOf,
  sampleInputs,
  TestClock,
  type Backing,
  type TestKey,
} from './support/backing.js';

describe.each(ENGINES)('retention pruning on %s', (engine, available) => {
  let backing: Backing;
  let store: AuditStore;
  let key: TestKey;
  let clock: TestClock;

  const verify = (batchSize?: number) =>
    verifyAuditLog(backing.sql.db, {
      resolveKey: resolverOf(key),
      ...(batchSize === undefined ? {} : { batchSize }),
    });

  beforeEach(async () => {
    if (!available) return;
    backing = await openBacking(engine);
    clock = new TestClock();
    store = createAuditStore(backing.sql.db, { now: clock.now });
    key = await createTestKey();
    await store.append(sampleInputs(1, 10));
    await store.checkpoint(rawSigner(key));
    await store.append(sampleInputs(11, 5));
  });
  afterEach(async () => {
    if (available) await backing.release();
  });

  describe.skipIf(!available)('', () => {
    it('removes rows behind a signed checkpoint, records it in the chain and signs over the record', async () => {
      const result = await store.prune(10, rawSigner(key), { actor: { sub: 'ops-admin' } });
      expect(result).toEqual({
        pruned: 10,
        throughSeq: 10,
        event: { seq: 16, id: 'audit-prune-10' },
        checkpoint: expect.objectContaining({ seq: 16, kid: key.kid }),
      });
      const records = await store.read(0, 100);
      expect(records.map((r) => r.seq)).toEqual([11, 12, 13, 14, 15, 16]);
      expect(records.at(-1)?.event).toEqual({
        time: new Date(clock.ms).toISOString(),
        action: 'audit.prune',
        outcome: 'success',
        component: 'audit',
        actor: { sub: 'ops-admin' },
        target: { type: 'audit_log', id: '10' },
        reason: 'retention',
        details: {
          checkpointHash: expect.stringMatching(/^[0-9a-f]{64}$/),
          checkpointKid: key.kid,
          firstSeq: 1,
          throughSeq: 10,
        },
      });
      // The rest of the log verifies from the signed checkpoint it now starts after.
      expect(await verify(2)).toMatchObject({ ok: true, checked: 6, checkpoints: 2 });
      // Once is enough: everything through 10 is gone.
      expect(await store.prune(10, rawSigner(key))).toEqual({ pruned: 0, throughSeq: 10 });
    });

    it('prunes again later, from the previous anchor', async () => {
      await store.prune(10, rawSigner(key));
      await store.append(sampleInputs(100, 5));
      const cp = await store.checkpoint(rawSigner(key));
      expect(cp?.seq).toBe(21);
      // The first prune record (seq 16) goes too; the new one accounts for everything.
      expect(await store.prune(21, rawSigner(key))).toMatchObject({ pruned: 11, event: { seq: 22 } });
      expect(await verify()).toMatchObject({ ok: true, checked: 1, checkpoints: 4 });
    });

    it('refuses without a checkpoint at exactly that seq', async () => {
      await expect(store.prune(12, rawSigner(key))).rejects.toMatchObject({
        code: 'ERR_AUDIT_PRUNE_REFUSED',
        detail: 'no checkpoint at seq 12',
      });
      await expect(store.prune(0, rawSigner(key))).rejects.toMatchObject({
        code: 'ERR_AUDIT_ARGUMENT_INVALID',
      });
      expect(await store.headSeq()).toBe(15);
    });

    it('refuses to erase rows that do not verify', async () => {
      await backing.raw(`update audit_log set reason = 'edited' where seq = 4`);
      await expect(store.prune(10, rawSigner(key))).rejects.toMatchObject({
        code: 'ERR_AUDIT_PRUNE_REFUSED',
        detail: 'seq 4: hash does not match the record',
      });
      expect((await store.read(0, 1))[0]?.seq).toBe(1);
    });

    it('refuses to prune after an unrecorded deletion of the oldest rows (no laundering)', async () => {
      await store.append(sampleInputs(200, 2));
      await store.checkpoint(rawSigner(key));
      await backing.raw(`delete from audit_log where seq <= 10`);
      await expect(store.prune(17, rawSigner(key))).rejects.toMatchObject({
        code: 'ERR_AUDIT_PRUNE_REFUSED',
        detail: 'no audit.prune record accounts for the log starting at seq 11',
      });
    });

    it('several prunes at once: one record, the others find the work done, none fails', async () => {
      // A log long enough to be read in several pages, so that one prune deletes rows while the
      // others are still checking them (the reads before the chain lock).
      await store.append(sampleInputs(1000, 2500));
      const cp = await store.checkpoint(rawSigner(key));
      const stores = [
        store,
        ...[1, 2, 3, 4, 5].map(() => createAuditStore(backing.sql.db, { now: clock.now })),
      ];
      const results = await Promise.all(
        stores.map(async (s, i) => {
          await new Promise((resolve) => setTimeout(resolve, i * 3));
          return s.prune(cp!.seq, rawSigner(key), { actor: { sub: 'job' } });
        }),
      );
      expect(results.filter((r) => r.pruned > 0)).toHaveLength(1);
      const records = await store.read(0, 100);
      expect(records.filter((r) => r.event.action === 'audit.prune')).toHaveLength(1);
      expect(await verify()).toMatchObject({ ok: true });
    });

    it('tells an unrecorded deletion of the oldest rows from a prune', async () => {
      // An intruder deletes rows through a checkpoint, as pruning would, but without its record.
      await backing.raw(`delete from audit_log where seq <= 10`);
      expect((await verify()).firstProblem).toMatchObject({ seq: 1, kind: 'removed' });
    });

    it('tells a deletion of rows after a prune', async () => {
      await store.prune(10, rawSigner(key));
      await backing.raw(`delete from audit_log where seq = 11`);
      expect((await verify()).firstProblem).toMatchObject({ seq: 11, kind: 'removed' });
    });
  });
});

import { createHash } from 'node:crypto';
import {
  AUDIT_GENESIS_HASH,
  createAuditStore,
  exportAuditLog,
  isAuditStoreError,
  verifyAuditLog,
  type AuditAppendInput,
  type AuditStore,
} from '@gatehouse/audit';
import type { AuditEvent } from '@gatehouse/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ENGINES, openBacking, sampleEvent, sampleInputs, type Backing } from './support/backing.js';

/**
 * The canonical form written from the README's description alone, as an auditor would: JSON with
 * sorted member names and no whitespace, absent fields null, seq and time as numbers.
 */
function auditorHash(row: Record<string, unknown>): string {
  const sortValue = (value: unknown): unknown =>
    value !== null && typeof value === 'object'
      ? Object.fromEntries(
          Object.keys(value)
            .sort()
            .map((k) => [k, sortValue((value as Record<string, unknown>)[k])]),
        )
      : value;
  const record = {
    seq: Number(row['seq']),
    id: row['id'],
    time: Number(row['time']),
    action: row['action'],
    outcome: row['outcome'],
    component: row['component'],
    actor_sub: row['actor_sub'],
    actor_client_id: row['actor_client_id'],
    source_ip: row['source_ip'],
    target_type: row['target_type'],
    target_id: row['target_id'],
    decision: row['decision'],
    reason: row['reason'],
    request_id: row['request_id'],
    details: row['details'] === null ? null : JSON.parse(row['details'] as string),
    prev_hash: row['prev_hash'],
  };
  return createHash('sha256')
    .update(JSON.stringify(sortValue(record)))
    .digest('hex');
}

const noKeys = (): undefined => undefined;

describe.each(ENGINES)('audit store append and read on %s', (engine, available) => {
  let backing: Backing;
  let store: AuditStore;

  beforeEach(async () => {
    if (!available) return;
    backing = await openBacking(engine);
    store = createAuditStore(backing.sql.db);
  });
  afterEach(async () => {
    if (available) await backing.release();
  });

  describe.skipIf(!available)('', () => {
    it('starts empty at the genesis', async () => {
      expect(await store.head()).toEqual({ seq: 0, hash: AUDIT_GENESIS_HASH });
      expect(await store.headSeq()).toBe(0);
      expect(await store.read(0, 10)).toEqual([]);
      expect(await store.append([])).toEqual({ seqs: [], inserted: 0 });
    });

    it('chains a batch of 100 from seq 1, each hash over the record and the previous hash', async () => {
      const inputs = sampleInputs(1, 100);
      const result = await store.append(inputs);
      expect(result).toEqual({ seqs: inputs.map((_, i) => i + 1), inserted: 100 });

      const rows = await backing.sql.db.selectFrom('audit_log').selectAll().orderBy('seq').execute();
      expect(rows.map((r) => Number(r.seq))).toEqual(inputs.map((_, i) => i + 1));
      let prev = AUDIT_GENESIS_HASH;
      for (const row of rows) {
        expect(row.prev_hash).toBe(prev);
        expect(row.hash).toMatch(/^[0-9a-f]{64}$/);
        // An independent implementation of the documented canonical form agrees.
        expect(row.hash).toBe(auditorHash(row));
        prev = row.hash;
      }
      expect(await store.head()).toEqual({ seq: 100, hash: prev });
      expect(await verifyAuditLog(backing.sql.db, { resolveKey: noKeys })).toMatchObject({
        ok: true,
        checked: 100,
      });
    });

    it('reads back the events as appended, in pages', async () => {
      const inputs = sampleInputs(1, 25);
      await store.append(inputs);
      const first = await store.read(0, 10);
      const rest = await store.read(10, 100);
      expect(first.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(rest.map((r) => r.seq)).toEqual(Array.from({ length: 15 }, (_, i) => i + 11));
      expect([...first, ...rest].map(({ id, event }) => ({ id, event }))).toEqual(inputs);
      expect(rest.at(-1)?.hash).toBe((await store.head()).hash);
    });

    it('normalises the time to UTC milliseconds', async () => {
      const event: AuditEvent = { ...sampleEvent(4), time: '2026-03-01T10:00:00.123456+02:00' };
      await store.append([{ id: 'tz', event }]);
      const [record] = await store.read(0, 1);
      expect(record?.event.time).toBe('2026-03-01T08:00:00.123Z');
    });

    it('stores a re-delivered id once and answers with its seq', async () => {
      await store.append(sampleInputs(1, 5));
      const head = await store.head();
      // At-least-once delivery from a spool: the same batch again, then overlapping ones.
      expect(await store.append(sampleInputs(1, 5))).toEqual({ seqs: [1, 2, 3, 4, 5], inserted: 0 });
      expect(await store.head()).toEqual(head);
      expect(await store.append(sampleInputs(4, 4))).toEqual({ seqs: [4, 5, 6, 7], inserted: 2 });
      // The same id twice in one batch: the first occurrence is stored.
      const twice = [...sampleInputs(8, 1), { id: 'evt-8', event: sampleEvent(99) }];
      expect(await store.append(twice)).toEqual({ seqs: [8, 8], inserted: 1 });
      const records = await store.read(0, 100);
      expect(records.map((r) => r.id)).toEqual([
        'evt-1',
        'evt-2',
        'evt-3',
        'evt-4',
        'evt-5',
        'evt-6',
        'evt-7',
        'evt-8',
      ]);
      expect(records.at(-1)?.event).toEqual(sampleEvent(8));
      expect((await verifyAuditLog(backing.sql.db, { resolveKey: noKeys })).ok).toBe(true);
    });

    it('appends batches larger than one INSERT holds', async () => {
      const result = await store.append(sampleInputs(1, 1234));
      expect(result.inserted).toBe(1234);
      expect(await store.headSeq()).toBe(1234);
      expect(await verifyAuditLog(backing.sql.db, { resolveKey: noKeys, batchSize: 100 })).toMatchObject({
        ok: true,
        checked: 1234,
      });
    });

    const base = sampleEvent(1);
    const malformed: readonly (readonly [string, unknown, string])[] = [
      ['an empty id', { id: '', event: base }, 'events[1].id: empty'],
      [
        'a time without an offset',
        { id: 'x', event: { ...base, time: '2026-01-01T00:00:00' } },
        'events[1].time',
      ],
      ['a time that is not one', { id: 'x', event: { ...base, time: 'yesterday' } }, 'events[1].time'],
      ['an unknown outcome', { id: 'x', event: { ...base, outcome: 'maybe' } }, 'events[1].outcome'],
      ['an unknown decision', { id: 'x', event: { ...base, decision: 'perhaps' } }, 'events[1].decision'],
      [
        'a missing component',
        { id: 'x', event: { ...base, component: undefined } },
        'events[1].component: missing',
      ],
      [
        'a nested details value',
        { id: 'x', event: { ...base, details: { a: { b: 1 } } } },
        'events[1].details.a',
      ],
      [
        'a non-finite details number',
        { id: 'x', event: { ...base, details: { n: Infinity } } },
        'events[1].details.n',
      ],
      ['a NUL character', { id: 'x', event: { ...base, reason: 'a\u0000b' } }, 'events[1].reason'],
      ['a lone surrogate', { id: 'x', event: { ...base, requestId: 'a\uD800' } }, 'events[1].requestId'],
      [
        'an over-long field',
        { id: 'x', event: { ...base, action: 'a'.repeat(5000) } },
        'events[1].action: too long',
      ],
      [
        'the action reserved for pruning',
        { id: 'x', event: { ...base, action: 'audit.prune' } },
        'events[1].action',
      ],
    ];
    it.each(malformed)(
      'refuses the whole batch for %s, naming the index and field',
      async (_, bad, detail) => {
        const batch = [...sampleInputs(1, 1), bad as AuditAppendInput];
        const error = await store.append(batch).catch((err: unknown) => err);
        expect(isAuditStoreError(error)).toBe(true);
        expect(error).toMatchObject({ code: 'ERR_AUDIT_EVENT_INVALID' });
        expect((error as { detail: string }).detail).toContain(detail);
        expect(await store.headSeq()).toBe(0);
      },
    );

    it('refuses out-of-range reads', async () => {
      await expect(store.read(0, 0)).rejects.toMatchObject({ code: 'ERR_AUDIT_ARGUMENT_INVALID' });
      await expect(store.read(0, 10_001)).rejects.toMatchObject({ code: 'ERR_AUDIT_ARGUMENT_INVALID' });
      await expect(store.read(0.5, 1)).rejects.toMatchObject({ code: 'ERR_AUDIT_ARGUMENT_INVALID' });
    });

    it('exports ECS documents between two times', async () => {
      // sampleEvent(i) is at 2026-01-01T00:00:00Z + i seconds.
      await store.append(sampleInputs(1, 10));
      const all = [];
      for await (const doc of exportAuditLog(backing.sql.db, { batchSize: 3 })) all.push(doc);
      expect(all).toHaveLength(10);
      const records = await store.read(0, 10);
      const [, second] = all;
      expect(second).toEqual({
        '@timestamp': '2026-01-01T00:00:02.000Z',
        ecs: { version: expect.any(String) },
        event: {
          id: 'evt-2',
          sequence: 2,
          action: 'login.failure',
          outcome: 'success',
          kind: 'event',
          dataset: 'gatehouse.audit',
          reason: 'rule-2',
          hash: records[1]?.hash,
        },
        service: { name: 'auth-server' },
        user: { id: 'user-2' },
        source: { ip: '192.0.2.2' },
        http: { request: { id: 'req-2' } },
        gatehouse: {
          target: { type: 'account', id: 'acct-2' },
          details: { path: '/api/accounts/2', status: 202, cached: true, note: 'é "quoted"\n' },
        },
      });

      const window = [];
      for await (const doc of exportAuditLog(backing.sql.db, {
        from: '2026-01-01T00:00:03Z',
        to: new Date('2026-01-01T00:00:06Z'),
      })) {
        window.push(doc.event.sequence);
      }
      expect(window).toEqual([3, 4, 5]);
      const resumed = [];
      for await (const doc of exportAuditLog(backing.sql.db, { afterSeq: 8 })) resumed.push(doc.event.id);
      expect(resumed).toEqual(['evt-9', 'evt-10']);
      await expect(exportAuditLog(backing.sql.db, { from: 'soon' }).next()).rejects.toMatchObject({
        code: 'ERR_AUDIT_ARGUMENT_INVALID',
      });
    });
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent } from '@gatehouse/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createFileSinkCursor } from '../cursor/file-sink-cursor.js';
import { SinkError } from '../sink-error.js';
import { createMemoryAuditSource, type MemoryAuditSource } from '../source/memory-audit-source.js';
import type { AuditRecord, SinkCursor, SinkLogger, SinkTransport } from '../types.js';
import { createSinkDelivery, type SinkDeliveryOptions } from './create-sink-delivery.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-delivery-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let cursors = 0;
const newCursorPath = () => join(dir, `sink-${(cursors += 1)}.cursor`);

function event(n: number): AuditEvent {
  return {
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    action: 'test.event',
    outcome: 'success',
    component: `c${n}`,
  };
}

function fill(source: MemoryAuditSource, count: number): void {
  for (let i = 0; i < count; i += 1) source.append(event(i));
}

type Outcome = 'ok' | 'hang' | SinkError;

/**
 * A transport whose answer the test decides per attempt: the delivery loop is what is under test
 * here; the real transports have their own suites against real receivers.
 */
function scriptedTransport(decide: (attempt: number) => Outcome = () => 'ok') {
  const attempts: number[][] = [];
  const delivered: number[][] = [];
  let closed = false;
  const transport: SinkTransport = {
    kind: 'scripted',
    deliver(records: readonly AuditRecord[], signal: AbortSignal) {
      attempts.push(records.map((record) => record.seq));
      const outcome = decide(attempts.length);
      if (outcome === 'ok') {
        delivered.push(records.map((record) => record.seq));
        return Promise.resolve();
      }
      if (outcome === 'hang') {
        return new Promise<void>((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(new SinkError('ERR_AUDIT_SINK_ABORTED')));
        });
      }
      return Promise.reject(outcome);
    },
    close() {
      closed = true;
      return Promise.resolve();
    },
  };
  return { transport, attempts, delivered, isClosed: () => closed };
}

function recordingLogger() {
  const lines: { level: string; fields: object; message: string }[] = [];
  const logger: SinkLogger = {
    info: (fields, message) => lines.push({ level: 'info', fields, message }),
    warn: (fields, message) => lines.push({ level: 'warn', fields, message }),
    error: (fields, message) => lines.push({ level: 'error', fields, message }),
  };
  return { logger, lines };
}

const fast = {
  pollIntervalMs: 5,
  batch: { maxEvents: 10, maxWaitMs: 0 },
  retry: { initialDelayMs: 5, maxDelayMs: 20, permanentFailureDelayMs: 20 },
};

function delivery(
  overrides: Partial<SinkDeliveryOptions> & Pick<SinkDeliveryOptions, 'source' | 'transport'>,
) {
  return createSinkDelivery({
    id: 'test',
    cursor: createFileSinkCursor(newCursorPath()),
    ...fast,
    ...overrides,
  });
}

const flat = (batches: number[][]) => batches.flat();
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('sink delivery', () => {
  it('delivers every event in store order, in batches of at most maxEvents, and saves the cursor', async () => {
    const source = createMemoryAuditSource();
    fill(source, 25);
    const path = newCursorPath();
    const { transport, delivered, isClosed } = scriptedTransport();
    const sink = delivery({ source, transport, cursor: createFileSinkCursor(path) });
    await sink.start();
    await expect.poll(() => sink.state().cursor).toBe(25);
    expect(delivered).toEqual([range(1, 10), range(11, 20), range(21, 25)]);
    expect(await createFileSinkCursor(path).load()).toBe(25);
    expect(sink.state()).toMatchObject({ lag: 0, headSeq: 25, deliveredEvents: 25, consecutiveFailures: 0 });
    await sink.stop();
    expect(isClosed()).toBe(true);
    expect(sink.state().running).toBe(false);
  });

  it('resumes after the saved cursor: a restart sends nothing twice', async () => {
    const source = createMemoryAuditSource();
    fill(source, 5);
    const path = newCursorPath();
    const first = scriptedTransport();
    const one = delivery({ source, transport: first.transport, cursor: createFileSinkCursor(path) });
    await one.start();
    await expect.poll(() => one.state().cursor).toBe(5);
    await one.stop();
    fill(source, 3);
    const second = scriptedTransport();
    const two = delivery({ source, transport: second.transport, cursor: createFileSinkCursor(path) });
    await two.start();
    await expect.poll(() => two.state().cursor).toBe(8);
    await two.stop();
    expect(flat(second.delivered)).toEqual([6, 7, 8]);
  });

  it('retries a failing batch with backoff until it goes through, losing and reordering nothing', async () => {
    const source = createMemoryAuditSource();
    fill(source, 12);
    const { logger, lines } = recordingLogger();
    const down = new SinkError('ERR_AUDIT_SINK_UNREACHABLE', {
      detail: 'syslog+tcp://127.0.0.1:1: ECONNREFUSED',
    });
    const { transport, attempts, delivered } = scriptedTransport((n) => (n >= 2 && n <= 5 ? down : 'ok'));
    const sink = delivery({ source, transport, logger });
    await sink.start();
    await expect.poll(() => sink.state().cursor).toBe(12);
    await sink.stop();
    expect(flat(delivered)).toEqual(range(1, 12));
    // The failed batch is the one sent again, unchanged.
    expect(attempts.slice(1, 6)).toEqual(Array.from({ length: 5 }, () => range(11, 12)));
    expect(sink.state()).toMatchObject({
      consecutiveFailures: 0,
      lastError: { code: 'ERR_AUDIT_SINK_UNREACHABLE', permanent: false, detail: down.detail },
    });
    // One warning when the streak starts, one line when it ends: not one per attempt.
    expect(lines.map((line) => `${line.level} ${line.message}`)).toEqual([
      'warn audit sink delivery failed; retrying',
      'info audit sink delivering again',
    ]);
  });

  it('counts a permanent refusal, logs it as an error and keeps the batch', async () => {
    const source = createMemoryAuditSource();
    fill(source, 3);
    const { logger, lines } = recordingLogger();
    const refused = new SinkError('ERR_AUDIT_SINK_REJECTED', {
      detail: 'webhook https://h.example: HTTP 400',
    });
    const { transport, delivered } = scriptedTransport((n) => (n <= 2 ? refused : 'ok'));
    const sink = delivery({ source, transport, logger });
    await sink.start();
    await expect.poll(() => sink.state().cursor).toBe(3);
    await sink.stop();
    expect(flat(delivered)).toEqual([1, 2, 3]);
    expect(sink.state()).toMatchObject({ permanentFailures: 2, lastError: { permanent: true } });
    expect(lines.filter((line) => line.level === 'error')).toHaveLength(2);
    expect(lines[0]?.fields).toMatchObject({ sink: 'test', code: 'ERR_AUDIT_SINK_REJECTED' });
  });

  it('raises backlogFull while the lag is above its bound, and drops nothing', async () => {
    const source = createMemoryAuditSource();
    const { logger, lines } = recordingLogger();
    let up = false;
    const down = new SinkError('ERR_AUDIT_SINK_UNREACHABLE');
    const { transport, delivered } = scriptedTransport(() => (up ? 'ok' : down));
    const sink = delivery({ source, transport, logger, backlogAlertEvents: 20 });
    await sink.start();
    fill(source, 50);
    await expect.poll(() => sink.state()).toMatchObject({ backlogFull: true, lag: 50 });
    expect(sink.state().consecutiveFailures).toBeGreaterThan(0);
    up = true;
    await expect.poll(() => sink.state().cursor).toBe(50);
    await sink.stop();
    expect(sink.state().backlogFull).toBe(false);
    expect(flat(delivered)).toEqual(range(1, 50));
    expect(lines.map((line) => line.message)).toContain(
      'audit sink backlog above its alert bound; events are kept in the audit store',
    );
    expect(lines.map((line) => line.message)).toContain('audit sink backlog back under its alert bound');
  });

  it('stop(finish) lets the batch in flight complete and saves its cursor', async () => {
    const source = createMemoryAuditSource();
    fill(source, 3);
    let finishBatch: (() => void) | undefined;
    const path = newCursorPath();
    const transport: SinkTransport = {
      kind: 'slow',
      deliver: () => new Promise<void>((resolve) => (finishBatch = resolve)),
      close: () => Promise.resolve(),
    };
    const sink = delivery({ source, transport, cursor: createFileSinkCursor(path) });
    await sink.start();
    await expect.poll(() => finishBatch).toBeDefined();
    const stopped = sink.stop('finish');
    finishBatch!();
    await stopped;
    expect(await createFileSinkCursor(path).load()).toBe(3);
  });

  it('stop(abandon) cuts the batch in flight off without saving: the next start sends it again', async () => {
    const source = createMemoryAuditSource();
    fill(source, 4);
    const path = newCursorPath();
    const first = scriptedTransport(() => 'hang');
    const one = delivery({ source, transport: first.transport, cursor: createFileSinkCursor(path) });
    await one.start();
    await expect.poll(() => first.attempts.length).toBe(1);
    await one.stop('abandon');
    expect(await createFileSinkCursor(path).load()).toBe(0);
    expect(one.state().consecutiveFailures).toBe(0);
    const second = scriptedTransport();
    const two = delivery({ source, transport: second.transport, cursor: createFileSinkCursor(path) });
    await two.start();
    await expect.poll(() => two.state().cursor).toBe(4);
    await two.stop();
    expect(second.delivered).toEqual([[1, 2, 3, 4]]);
  });

  it('reports an unreadable source and carries on when it is back', async () => {
    const inner = createMemoryAuditSource();
    fill(inner, 2);
    let failing = true;
    const source = {
      read: (after: number, limit: number) =>
        failing ? Promise.reject(new Error('database is locked')) : inner.read(after, limit),
      headSeq: () => inner.headSeq(),
    };
    const { transport, delivered } = scriptedTransport();
    const sink = delivery({ source, transport });
    await sink.start();
    await expect.poll(() => sink.state().lastError?.code).toBe('ERR_AUDIT_SINK_SOURCE');
    failing = false;
    await expect.poll(() => sink.state().cursor).toBe(2);
    await sink.stop();
    expect(flat(delivered)).toEqual([1, 2]);
  });

  it('moves on when a cursor save fails, and says so', async () => {
    const source = createMemoryAuditSource();
    fill(source, 2);
    let saves = 0;
    const cursor: SinkCursor = {
      load: () => Promise.resolve(0),
      save: () => ((saves += 1) === 1 ? Promise.reject(new Error('ENOSPC')) : Promise.resolve()),
    };
    const { transport, delivered } = scriptedTransport();
    const sink = delivery({ source, transport, cursor, batch: { maxEvents: 1, maxWaitMs: 0 } });
    await sink.start();
    await expect.poll(() => sink.state().cursor).toBe(2);
    await sink.stop();
    expect(delivered).toEqual([[1], [2]]);
    expect(sink.state().lastError?.code).toBe('ERR_AUDIT_SINK_CURSOR');
  });

  it('waits for a partial batch to fill, and wake() ends an idle wait', async () => {
    const source = createMemoryAuditSource();
    const { transport, delivered } = scriptedTransport();
    // Waits long enough that only wake() can explain a delivery before the test times out.
    const sink = delivery({
      source,
      transport,
      pollIntervalMs: 60_000,
      batch: { maxEvents: 3, maxWaitMs: 60_000 },
    });
    source.onAppend(() => sink.wake());
    await sink.start();
    fill(source, 2);
    await expect.poll(() => sink.state().headSeq).toBe(2);
    fill(source, 1);
    await expect.poll(() => sink.state().cursor).toBe(3);
    await sink.stop();
    expect(delivered).toEqual([[1, 2, 3]]);
  });

  it('refuses to start on a corrupt cursor', async () => {
    const path = newCursorPath();
    writeFileSync(path, 'garbage');
    const sink = delivery({
      source: createMemoryAuditSource(),
      transport: scriptedTransport().transport,
      cursor: createFileSinkCursor(path),
    });
    await expect(sink.start()).rejects.toThrow(/corrupt/);
  });
});

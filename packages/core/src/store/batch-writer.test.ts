import { describe, expect, it } from 'vitest';
import { BatchQueueFullError, createBatchWriter } from './batch-writer.js';

/** A `write` the test completes by hand, recording every batch it was given. */
function controlledWrite() {
  const batches: number[][] = [];
  const settle: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const write = (rows: readonly number[]): Promise<void> => {
    batches.push([...rows]);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    return new Promise<void>((resolve, reject) => {
      settle.push({
        resolve: () => {
          inFlight--;
          resolve();
        },
        reject: (err: Error) => {
          inFlight--;
          reject(err);
        },
      });
    });
  };
  return {
    write,
    batches,
    settle,
    maxInFlight: () => maxInFlight,
  };
}

/** Lets the event loop run one full turn (past the writer's setImmediate). */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Records the order in which promises settle, and how. */
function track(promises: readonly Promise<void>[]): string[] {
  const log: string[] = [];
  promises.forEach((promise, index) => {
    promise.then(
      () => log.push(`ok ${String(index)}`),
      (err: unknown) => log.push(`failed ${String(index)}: ${(err as Error).message}`),
    );
  });
  return log;
}

describe('createBatchWriter (group commit)', () => {
  it('writes the rows added in one event-loop turn as one batch, in the order they were added', async () => {
    const db = controlledWrite();
    const writer = createBatchWriter({ write: db.write });
    const added = [1, 2, 3, 4].map((row) => writer.add(row));
    expect(db.batches).toEqual([]);
    await nextTurn();
    expect(db.batches).toEqual([[1, 2, 3, 4]]);
    const log = track(added);
    db.settle[0]?.resolve();
    await Promise.all(added);
    expect(log).toEqual(['ok 0', 'ok 1', 'ok 2', 'ok 3']);
  });

  it('resolves no caller before its batch has been written (durable before the answer)', async () => {
    const db = controlledWrite();
    const writer = createBatchWriter({ write: db.write });
    const log = track([writer.add(1), writer.add(2)]);
    await nextTurn();
    await nextTurn();
    expect(db.batches).toEqual([[1, 2]]);
    expect(log).toEqual([]);
    db.settle[0]?.resolve();
    await nextTurn();
    expect(log).toEqual(['ok 0', 'ok 1']);
  });

  it('fails every row of a failed batch with its error, and goes on with the next batch', async () => {
    const db = controlledWrite();
    const writer = createBatchWriter({ write: db.write });
    const first = [writer.add(1), writer.add(2), writer.add(3)];
    const log = track(first);
    await nextTurn();
    const second = writer.add(4);
    db.settle[0]?.reject(new Error('disk full'));
    await Promise.allSettled(first);
    expect(log).toEqual(['failed 0: disk full', 'failed 1: disk full', 'failed 2: disk full']);
    // Row 4 waited for the failed batch and is written on its own, unaffected.
    await nextTurn();
    expect(db.batches).toEqual([[1, 2, 3], [4]]);
    db.settle[1]?.resolve();
    await expect(second).resolves.toBeUndefined();
  });

  it('fails the batch when write throws before returning a promise', async () => {
    const writer = createBatchWriter<number>({
      write: () => {
        throw new Error('no connection');
      },
    });
    await expect(Promise.all([writer.add(1), writer.add(2)])).rejects.toThrow('no connection');
    const [result] = await Promise.allSettled([writer.add(3)]);
    expect(result.status).toBe('rejected');
  });

  it('writes one batch at a time: rows added meanwhile form the next batch as soon as it settles', async () => {
    const db = controlledWrite();
    const writer = createBatchWriter({ write: db.write });
    const first = writer.add(1);
    await nextTurn();
    const later = [writer.add(2), writer.add(3)];
    await nextTurn();
    await nextTurn();
    // Still one write in flight: the next batch waits for it (commits stay in order).
    expect(db.batches).toEqual([[1]]);
    db.settle[0]?.resolve();
    await first;
    await nextTurn();
    expect(db.batches).toEqual([[1], [2, 3]]);
    db.settle[1]?.resolve();
    await Promise.all(later);
    expect(db.maxInFlight()).toBe(1);
  });

  it('starts a batch at once when maxRows are waiting, and never writes more than maxRows together', async () => {
    const db = controlledWrite();
    const writer = createBatchWriter({ write: db.write, maxRows: 3 });
    const added = [1, 2, 3].map((row) => writer.add(row));
    // No turn of the event loop yet: the full batch started synchronously.
    expect(db.batches).toEqual([[1, 2, 3]]);
    const more = [4, 5, 6, 7, 8].map((row) => writer.add(row));
    db.settle[0]?.resolve();
    await Promise.all(added);
    await nextTurn();
    expect(db.batches).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    db.settle[1]?.resolve();
    await nextTurn();
    expect(db.batches.at(-1)).toEqual([7, 8]);
    db.settle[2]?.resolve();
    await Promise.all(more);
  });

  it('drain waits for every row added so far', async () => {
    const written: number[] = [];
    const writer = createBatchWriter<number>({
      write: async (rows) => {
        await nextTurn();
        written.push(...rows);
      },
      maxRows: 2,
    });
    const added = [1, 2, 3, 4, 5].map((row) => writer.add(row));
    await writer.drain();
    expect(written).toEqual([1, 2, 3, 4, 5]);
    await Promise.all(added);
  });

  it('refuses a maxRows that is not a positive integer', () => {
    for (const maxRows of [0, -1, 1.5, Number.NaN])
      expect(() => createBatchWriter({ write: () => Promise.resolve(), maxRows })).toThrow(RangeError);
    expect(() => createBatchWriter({ write: () => Promise.resolve(), maxRows: 8, maxQueuedRows: 4 })).toThrow(
      RangeError,
    );
  });

  it('fails new rows at once while too many wait behind a database that does not answer', async () => {
    const db = controlledWrite();
    const writer = createBatchWriter({ write: db.write, maxRows: 2, maxQueuedRows: 4 });
    // Two in the hanging batch, four waiting: the queue is full.
    const accepted = [1, 2, 3, 4, 5, 6].map((row) => writer.add(row));
    await expect(writer.add(7)).rejects.toBeInstanceOf(BatchQueueFullError);
    expect(db.batches).toEqual([[1, 2]]);
    // Once the database answers, the queue drains and rows are accepted again.
    db.settle[0]?.resolve();
    await nextTurn();
    db.settle[1]?.resolve();
    await nextTurn();
    db.settle[2]?.resolve();
    await Promise.all(accepted);
    const later = writer.add(8);
    await nextTurn();
    db.settle[3]?.resolve();
    await expect(later).resolves.toBeUndefined();
    expect(db.batches).toEqual([[1, 2], [3, 4], [5, 6], [8]]);
  });
});

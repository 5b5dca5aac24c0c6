import { isAuditStoreError, type AuditStore } from '@gatehouse/audit';
import type { Logger } from '@gatehouse/core';
import { readSpoolCursor, writeSpoolCursor, type AuditSpool, type SpooledEvent } from './audit-spool.js';

export interface AuditShipperOptions {
  readonly spool: AuditSpool;
  /** Where the shipped position (a byte offset of the spool) is kept. */
  readonly cursorFile: string;
  readonly store: Pick<AuditStore, 'append'>;
  readonly logger: Logger;
  /** Events per store append (default 500). */
  readonly batchSize?: number;
  /** The spool is emptied once everything is shipped and it holds at least this (default 1 MiB). */
  readonly truncateAtBytes?: number;
  /** Backoff after a store failure: first and longest wait (default 500 ms, 30 s). */
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  /** Idle re-check period (default 1 s). */
  readonly pollIntervalMs?: number;
  /** After each batch stored (sinks wake up). */
  readonly onShipped?: () => void;
}

export interface AuditShipper {
  /** The spool offset shipped so far. */
  position(): number;
  /** Ships everything synced now; rejects when the store refuses (the events stay spooled). */
  drain(): Promise<void>;
  /** Stops the loop after the batch in flight. */
  stop(): Promise<void>;
}

/**
 * Ships a spool to the audit store in batches, at least once: store, then save the position. On
 * start it replays from the saved position (the store skips ids it has). A store that is down
 * leaves the events spooled; the loop retries with backoff and ships them when it is back.
 */
export async function createAuditShipper(options: AuditShipperOptions): Promise<AuditShipper> {
  const { spool, cursorFile, store, logger } = options;
  const batchSize = options.batchSize ?? 500;
  const truncateAt = options.truncateAtBytes ?? 1024 * 1024;
  const initialMs = options.retryInitialMs ?? 500;
  const maxMs = options.retryMaxMs ?? 30_000;
  const pollMs = options.pollIntervalMs ?? 1000;
  let offset = await readSpoolCursor(cursorFile);
  // A cursor past the spool's end (the spool was emptied, the cursor not yet saved): start over.
  if (offset > spool.syncedSize()) offset = 0;
  let stopped = false;
  let wake: (() => void) | undefined;
  let failures = 0;

  async function append(events: readonly SpooledEvent[]): Promise<void> {
    try {
      await store.append(events);
    } catch (err) {
      if (!isAuditStoreError(err) || err.code !== 'ERR_AUDIT_EVENT_INVALID') throw err;
      // One malformed event refuses the batch: store the others, drop that one (logged, never its values).
      for (const event of events) {
        try {
          await store.append([event]);
        } catch (single) {
          if (!isAuditStoreError(single) || single.code !== 'ERR_AUDIT_EVENT_INVALID') throw single;
          logger.error(
            { code: single.code, detail: single.detail, id: event.id },
            'audit event refused by the store; dropped',
          );
        }
      }
    }
  }

  /** Ships one batch; false when there was nothing to ship. */
  async function shipOnce(): Promise<boolean> {
    const { events, next, bad } = await spool.readFrom(offset, batchSize);
    if (next === offset) return false;
    if (events.length > 0) await append(events);
    if (bad > 0) logger.error({ lines: bad, spool: spool.file }, 'unreadable audit spool lines skipped');
    await writeSpoolCursor(cursorFile, next);
    offset = next;
    options.onShipped?.();
    if (offset >= truncateAt && offset === spool.syncedSize()) {
      if (await spool.truncateIfShipped(offset, (at) => writeSpoolCursor(cursorFile, at))) offset = 0;
    }
    return true;
  }

  // One batch at a time (the loop and `drain` share the position and the cursor file).
  let queue: Promise<unknown> = Promise.resolve();
  function shipSerially(): Promise<boolean> {
    const result = queue.then(shipOnce);
    queue = result.catch(() => undefined);
    return result;
  }

  async function shipAll(): Promise<void> {
    while (await shipSerially()) {
      /* next batch */
    }
  }

  function sleep(ms: number): Promise<void> {
    if (stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });
  }

  async function loop(): Promise<void> {
    while (!stopped) {
      try {
        await shipAll();
        if (failures > 0) logger.info({ spool: spool.file }, 'audit store reachable again; spool shipped');
        failures = 0;
        await sleep(pollMs);
      } catch (err) {
        failures++;
        if (failures === 1 || failures % 20 === 0) {
          logger.warn(
            { err, failures, spool: spool.file },
            'audit store unavailable; events stay in the spool',
          );
        }
        // Full jitter: a random delay below the exponential bound.
        await sleep(Math.random() * Math.min(maxMs, initialMs * 2 ** Math.min(failures - 1, 20)));
      }
    }
  }

  spool.onSynced(() => {
    if (failures === 0) wake?.();
  });
  const running = loop();

  return {
    position: () => offset,
    drain: shipAll,
    async stop() {
      stopped = true;
      wake?.();
      await running;
    },
  };
}

import { SinkError, toSinkError, type SinkErrorCode } from '../sink-error.js';
import type { AuditRecord, AuditSource, SinkCursor, SinkLogger, SinkTransport } from '../types.js';
import { fullJitterDelay } from './backoff.js';

export interface SinkBatchOptions {
  /** Most events in one batch (default 500). */
  readonly maxEvents?: number;
  /** How long a partial batch waits for more events before it goes (default 1000 ms). */
  readonly maxWaitMs?: number;
}

export interface SinkRetryOptions {
  /** First retry delay ceiling; it doubles per consecutive failure (default 500 ms). */
  readonly initialDelayMs?: number;
  /** Cap of the retry delay (default 60000 ms). */
  readonly maxDelayMs?: number;
  /** Delay after a permanent refusal (4xx), which needs someone to act (default 300000 ms). */
  readonly permanentFailureDelayMs?: number;
}

export interface SinkDeliveryOptions {
  /** Sink name (logs, metrics label). */
  readonly id: string;
  readonly source: AuditSource;
  readonly cursor: SinkCursor;
  readonly transport: SinkTransport;
  readonly batch?: SinkBatchOptions;
  readonly retry?: SinkRetryOptions;
  /** How often an idle sink looks for new events, and the lag is refreshed (default 1000 ms). */
  readonly pollIntervalMs?: number;
  /** Lag (events) above which `backlogFull` is raised (default 100000). Nothing is ever dropped. */
  readonly backlogAlertEvents?: number;
  readonly logger?: SinkLogger;
  /** Uniform [0, 1) source for the backoff jitter (default `Math.random`). */
  readonly random?: () => number;
  readonly now?: () => Date;
}

export interface SinkLastError {
  readonly code: SinkErrorCode;
  readonly message: string;
  readonly detail?: string;
  readonly permanent: boolean;
  /** ISO 8601. */
  readonly at: string;
}

/** What metrics and `gatehouse doctor` read about one sink. */
export interface SinkState {
  readonly id: string;
  readonly kind: string;
  readonly running: boolean;
  /** Last `seq` delivered (and saved, unless a cursor save failed since). */
  readonly cursor: number;
  /** Highest `seq` in the source when last looked at. */
  readonly headSeq: number;
  /** `headSeq - cursor`: events waiting for this sink. */
  readonly lag: number;
  /** `lag > backlogAlertEvents`: alert; events are kept in the store, not dropped. */
  readonly backlogFull: boolean;
  readonly consecutiveFailures: number;
  readonly lastError?: SinkLastError;
  /** ISO 8601 time of the last delivered batch. */
  readonly lastDeliveryAt?: string;
  /** Events delivered since start (a re-sent event counts again). */
  readonly deliveredEvents: number;
  /** Permanent refusals since start. */
  readonly permanentFailures: number;
}

/**
 * `finish`: let the batch in flight complete (saving the cursor if it is delivered), then stop.
 * `abandon`: cut it off; its cursor is not saved, so it is sent again after the next start.
 */
export type SinkStopMode = 'finish' | 'abandon';

export interface SinkDelivery {
  readonly id: string;
  /** Loads the cursor (a corrupt cursor rejects here) and starts delivering in the background. */
  start(): Promise<void>;
  /** New events are there: ends an idle wait early (no effect during a retry delay). */
  wake(): void;
  state(): SinkState;
  /** Stops the loop and closes the transport. */
  stop(mode?: SinkStopMode): Promise<void>;
}

interface Waiter {
  readonly wakeable: boolean;
  readonly release: () => void;
}

/**
 * The delivery loop of one sink: read the events after the cursor, batch them, deliver, then save
 * the cursor. Delivery is at-least-once: a crash or an abandoned stop between a delivery and its
 * cursor save sends that batch again, so receivers deduplicate on `event.id`. A failure is retried
 * with exponential backoff and full jitter, forever: the audit store is the backlog, so an outage
 * never blocks a producer (the loop only reads) and never drops an event.
 */
export function createSinkDelivery(options: SinkDeliveryOptions): SinkDelivery {
  const { id, source, cursor, transport, logger } = options;
  const maxEvents = options.batch?.maxEvents ?? 500;
  const maxWaitMs = options.batch?.maxWaitMs ?? 1000;
  const initialDelayMs = options.retry?.initialDelayMs ?? 500;
  const maxDelayMs = options.retry?.maxDelayMs ?? 60_000;
  const permanentFailureDelayMs = options.retry?.permanentFailureDelayMs ?? 300_000;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const backlogAlertEvents = options.backlogAlertEvents ?? 100_000;
  const random = options.random ?? Math.random;
  const now = options.now ?? (() => new Date());
  for (const [name, value] of Object.entries({ maxEvents, pollIntervalMs, backlogAlertEvents })) {
    if (!Number.isInteger(value) || value < 1)
      throw new RangeError(`sink ${id}: ${name} must be a positive integer`);
  }

  let position = 0;
  let headSeq = 0;
  let running = false;
  let stopping = false;
  let loop: Promise<void> | undefined;
  let inFlight: AbortController | undefined;
  let waiter: Waiter | undefined;
  let wokenEarly = false;
  let consecutiveFailures = 0;
  let lastError: SinkLastError | undefined;
  let lastDeliveryAt: string | undefined;
  let deliveredEvents = 0;
  let permanentFailures = 0;
  let backlogFull = false;
  const base = { sink: id, kind: transport.kind };
  const stopRequested = (): boolean => stopping;

  function pause(ms: number, wakeable: boolean): Promise<void> {
    if (stopping) return Promise.resolve();
    if (wakeable && wokenEarly) {
      wokenEarly = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const release = (): void => {
        clearTimeout(timer);
        waiter = undefined;
        resolve();
      };
      // Unreferenced: a sink alone never keeps a process alive.
      const timer = setTimeout(release, Math.max(0, ms));
      timer.unref();
      waiter = { wakeable, release };
    });
  }

  function updateBacklog(): void {
    const full = headSeq - position > backlogAlertEvents;
    if (full === backlogFull) return;
    backlogFull = full;
    if (full) {
      logger?.error(
        { ...base, lag: headSeq - position, backlogAlertEvents },
        'audit sink backlog above its alert bound; events are kept in the audit store',
      );
    } else {
      logger?.info({ ...base, lag: headSeq - position }, 'audit sink backlog back under its alert bound');
    }
  }

  async function refreshHead(): Promise<void> {
    try {
      headSeq = Math.max(headSeq, await source.headSeq());
    } catch {
      // The read that follows reports the source failure.
    }
    updateBacklog();
  }

  /** The delay before the next try: a backoff for a failure, and the lag kept fresh meanwhile. */
  async function waitBeforeRetry(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!stopping) {
      const remaining = until - Date.now();
      if (remaining <= 0) return;
      await pause(Math.min(remaining, pollIntervalMs), false);
      await refreshHead();
    }
  }

  async function recordFailure(error: SinkError): Promise<void> {
    consecutiveFailures += 1;
    lastError = {
      code: error.code,
      message: error.message,
      ...(error.detail === undefined ? {} : { detail: error.detail }),
      permanent: error.permanent,
      at: now().toISOString(),
    };
    const fields = { ...base, code: error.code, detail: error.detail, consecutiveFailures };
    let delay: number;
    if (error.permanent) {
      permanentFailures += 1;
      delay = permanentFailureDelayMs;
      logger?.error(
        { ...fields, retryInMs: delay },
        'audit sink refused a batch; it is kept and retried after a long delay: check the sink',
      );
    } else {
      delay = fullJitterDelay(consecutiveFailures, initialDelayMs, maxDelayMs, random);
      if (consecutiveFailures === 1)
        logger?.warn({ ...fields, retryInMs: delay }, 'audit sink delivery failed; retrying');
    }
    await waitBeforeRetry(delay);
  }

  function recordSuccess(count: number): void {
    if (consecutiveFailures > 0) {
      logger?.info({ ...base, failures: consecutiveFailures }, 'audit sink delivering again');
    }
    consecutiveFailures = 0;
    deliveredEvents += count;
    lastDeliveryAt = now().toISOString();
    updateBacklog();
  }

  async function readAfterCursor(): Promise<readonly AuditRecord[]> {
    const records = await source.read(position, maxEvents);
    const last = records[records.length - 1];
    if (last !== undefined && last.seq > headSeq) {
      headSeq = last.seq;
      updateBacklog();
    }
    return records;
  }

  /** The next batch: up to `maxEvents`, waiting at most `maxWaitMs` for a partial one to fill. */
  async function collectBatch(): Promise<readonly AuditRecord[]> {
    await refreshHead();
    let records = await readAfterCursor();
    if (records.length === 0) {
      await pause(pollIntervalMs, true);
      return [];
    }
    const deadline = Date.now() + maxWaitMs;
    while (records.length < maxEvents && !stopping) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      await pause(remaining, true);
      records = await readAfterCursor();
    }
    return stopping ? [] : records;
  }

  /** Delivers one batch, retrying until it is delivered or the sink stops. */
  async function deliverBatch(records: readonly AuditRecord[]): Promise<void> {
    const last = records[records.length - 1];
    if (last === undefined) return;
    while (!stopping) {
      const controller = new AbortController();
      inFlight = controller;
      try {
        await transport.deliver(records, controller.signal);
      } catch (err) {
        // A stop may have come while the batch was out (the compiler cannot see that through await).
        if (stopRequested()) return;
        await recordFailure(toSinkError(err));
        continue;
      } finally {
        inFlight = undefined;
      }
      // Delivered: the position moves on even if the save fails (a restart then re-sends, which
      // at-least-once allows); sending the batch again now would only add duplicates.
      position = Math.max(position, last.seq);
      headSeq = Math.max(headSeq, position);
      recordSuccess(records.length);
      try {
        await cursor.save(position);
      } catch (err) {
        await recordFailure(new SinkError('ERR_AUDIT_SINK_CURSOR', { detail: `sink ${id}`, cause: err }));
      }
      return;
    }
  }

  async function run(): Promise<void> {
    while (!stopping) {
      let records: readonly AuditRecord[];
      try {
        records = await collectBatch();
      } catch (err) {
        await recordFailure(toSinkError(err, 'ERR_AUDIT_SINK_SOURCE'));
        continue;
      }
      await deliverBatch(records);
    }
  }

  return {
    id,
    async start() {
      if (running || stopping) throw new Error(`sink ${id} was already started`);
      position = await cursor.load();
      headSeq = position;
      running = true;
      loop = run().finally(() => {
        running = false;
      });
    },
    wake() {
      if (waiter?.wakeable === true) waiter.release();
      else wokenEarly = true;
    },
    state() {
      return {
        id,
        kind: transport.kind,
        running,
        cursor: position,
        headSeq,
        lag: Math.max(0, headSeq - position),
        backlogFull,
        consecutiveFailures,
        ...(lastError === undefined ? {} : { lastError }),
        ...(lastDeliveryAt === undefined ? {} : { lastDeliveryAt }),
        deliveredEvents,
        permanentFailures,
      };
    },
    async stop(mode = 'finish') {
      stopping = true;
      waiter?.release();
      if (mode === 'abandon') inFlight?.abort();
      await loop;
      await transport.close();
    },
  };
}

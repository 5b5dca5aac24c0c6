import { performance } from 'node:perf_hooks';
import { migrateRevocationFeed, readRevocationsAfter, type Logger, type SharedState } from '@gatehouse/core';
import type { Kysely } from 'kysely';

export interface RevocationFeedPollerOptions {
  /** The deployment's database, where the auth server appends to the feed. */
  readonly db: Kysely<unknown>;
  /** Its `isUp()` decides how often the feed is read. */
  readonly state: SharedState;
  readonly logger: Logger;
  /** Interval while the shared state is down (pub/sub delivers nothing then). */
  readonly pollMs: number;
  /** Interval while it is up: the safety net. */
  readonly resyncMs: number;
  /**
   * Applies one event, given as the JSON text the auth server also publishes. `catchingUp` is true
   * for the events already in the feed when the poller starts.
   */
  readonly apply: (message: string, catchingUp: boolean) => void;
  /** Rows per read (default 500). */
  readonly batchSize?: number;
}

export interface RevocationFeedPoller {
  /**
   * Creates the feed's table if needed, applies what the feed holds (the auth server prunes it
   * after 24 h: guard refuses older tokens anyway), then polls.
   */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Reads the revocation feed from the last event applied: every `pollMs` while the shared state is
 * down or is process memory (which reaches no other process), every `resyncMs` while Redis is up, and once more as soon as it is back up (events published
 * while the subscription was away were lost to pub/sub, not to the feed). The interval is wall
 * time (tests freeze the request clock, not the timers); a failing database is logged once per
 * outage and read again at the next tick.
 */
export function createRevocationFeedPoller(options: RevocationFeedPollerOptions): RevocationFeedPoller {
  const { db, state, logger, pollMs, resyncMs, apply } = options;
  const batchSize = options.batchSize ?? 500;
  let cursor = 0;
  let lastReadAt = 0;
  let stateUp = true;
  /** A read owed whatever the interval: the shared state just came back, or the last read failed. */
  let owed = false;
  let feedFailing = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  async function readNew(catchingUp: boolean): Promise<void> {
    for (;;) {
      const entries = await readRevocationsAfter(db, cursor, batchSize);
      for (const entry of entries) {
        apply(entry.message, catchingUp);
        cursor = entry.id;
      }
      if (entries.length < batchSize) return;
    }
  }

  async function tick(): Promise<void> {
    const up = state.isUp?.() ?? true;
    if (up !== stateUp) {
      stateUp = up;
      owed = true;
      if (up) logger.info('gateway auth: shared state back, revocation events by pub/sub again');
      else
        logger.warn(
          { pollMs },
          'gateway auth: shared state down, revocations read from the revocation feed meanwhile',
        );
    }
    // Process memory (no `isUp`) publishes only within this process: an auth server in another
    // process (`gatehouse up` runs each component in its own) reaches this gateway through the feed
    // alone, so it is read at the short interval.
    const processLocal = state.isUp === undefined;
    if (up && !processLocal && !owed && performance.now() - lastReadAt < resyncMs) return;
    try {
      await readNew(false);
      lastReadAt = performance.now();
      owed = false;
      if (feedFailing) {
        feedFailing = false;
        logger.info('gateway auth: revocation feed readable again');
      }
    } catch (err) {
      owed = true;
      if (!feedFailing) {
        feedFailing = true;
        logger.warn({ err }, 'gateway auth: revocation feed could not be read');
      }
    }
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick().finally(() => {
        running = undefined;
        schedule();
      });
    }, pollMs);
    // Never keeps the process alive on its own.
    timer.unref();
  }

  return {
    async start() {
      await migrateRevocationFeed(db);
      await readNew(true);
      lastReadAt = performance.now();
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

import type { Logger, SharedState } from '@gatehouse/core';

/** What the view shares with the list that keeps it (the list's own options). */
export interface SyncedTableViewDeps {
  readonly state: SharedState;
  readonly logger: Logger;
  /**
   * How often `sync` runs (default 1000 ms): it catches what no message announced (a CLI write,
   * a lost message).
   */
  readonly syncIntervalMs?: number;
}

export interface SyncedTableViewOptions {
  /** The shared-state channel on which instances announce changes to the table. */
  readonly channel: string;
  /** The rows in log lines, singular and plural (`['ban', 'bans']`). */
  readonly names: readonly [one: string, many: string];
  /** Rereads the table into the in-memory view. */
  readonly sync: () => Promise<void>;
  /** The sync running now, if any (awaited by `stop`). */
  readonly runningSync: () => Promise<void> | undefined;
  /** What a message heard on the channel does. */
  readonly onMessage: (message: string) => void;
  /** Runs once subscribed, before the first sync. */
  readonly beforeFirstSync?: () => Promise<void>;
}

export interface SyncedTableView {
  /** Subscribes to the channel, syncs, then resyncs every `syncIntervalMs`. */
  start(): Promise<void>;
  /** Stops the resyncs and the subscription, and waits for a sync in progress. */
  stop(): Promise<void>;
  /** Announces a change; a failure is logged only, since the others catch up at their next resync. */
  publish(message: string): Promise<void>;
}

/**
 * The lifecycle shared by the gateway's in-memory views of a durable table (bans, reroutes): the
 * database is the record, a message on the shared-state channel makes every instance act at once,
 * and a periodic resync catches anything missed. A failing resync keeps the last view and is
 * logged once per outage.
 */
export function createSyncedTableView(
  deps: SyncedTableViewDeps,
  options: SyncedTableViewOptions,
): SyncedTableView {
  const { state, logger } = deps;
  const { channel, sync } = options;
  const [one, many] = options.names;
  let timer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => Promise<void>) | undefined;
  let syncFailing = false;

  return {
    async start() {
      if (timer !== undefined) return;
      unsubscribe = await state.subscribe(channel, options.onMessage);
      await options.beforeFirstSync?.();
      await sync();
      timer = setInterval(() => {
        sync().then(
          () => {
            if (syncFailing) logger.info(`${one} resync works again`);
            syncFailing = false;
          },
          (err: unknown) => {
            // Keep the last view (expiries still apply); say so once per outage.
            if (!syncFailing) logger.warn({ err }, `${one} resync failed; keeping the last known ${many}`);
            syncFailing = true;
          },
        );
      }, deps.syncIntervalMs ?? 1000);
      timer.unref();
    },

    async stop() {
      clearInterval(timer);
      timer = undefined;
      const pending = options.runningSync();
      await Promise.allSettled([unsubscribe?.(), pending]);
      unsubscribe = undefined;
    },

    async publish(message) {
      try {
        await state.publish(channel, message);
      } catch (err) {
        // The row is written: the other instances pick it up at their next resync.
        logger.warn({ err }, `${one} event not published; other instances apply it at their next resync`);
      }
    },
  };
}

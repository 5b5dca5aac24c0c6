import { EventEmitter } from 'node:events';
import type { SharedState } from './shared-state.js';

interface Entry {
  value: string;
  expiresAt: number;
}

export interface MemorySharedStateOptions {
  readonly now?: () => number;
  /** How often expired entries are swept (default 60 s; the timer never keeps the process alive). */
  readonly sweepIntervalMs?: number;
}

/** Shared state for one process. Expired entries are invisible at once and swept periodically. */
export function createMemorySharedState(options: MemorySharedStateOptions = {}): SharedState {
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  const events = new EventEmitter();
  events.setMaxListeners(0);

  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    if (entry !== undefined && entry.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };

  const sweep = setInterval(() => {
    const t = now();
    for (const [key, entry] of entries) if (entry.expiresAt <= t) entries.delete(key);
  }, options.sweepIntervalMs ?? 60_000);
  sweep.unref();

  return {
    kind: 'memory',
    setIfAbsent(key, value, ttlMs) {
      if (live(key) !== undefined) return Promise.resolve(false);
      entries.set(key, { value, expiresAt: now() + ttlMs });
      return Promise.resolve(true);
    },
    get(key) {
      return Promise.resolve(live(key)?.value);
    },
    set(key, value, ttlMs) {
      entries.set(key, { value, expiresAt: ttlMs === undefined ? Number.POSITIVE_INFINITY : now() + ttlMs });
      return Promise.resolve();
    },
    delete(key) {
      entries.delete(key);
      return Promise.resolve();
    },
    increment(key, ttlMs, by = 1) {
      const entry = live(key);
      const total = (entry === undefined ? 0 : Number(entry.value)) + by;
      entries.set(key, { value: String(total), expiresAt: entry?.expiresAt ?? now() + ttlMs });
      return Promise.resolve(total);
    },
    publish(channel, message) {
      // Asynchronous like Redis: a publisher never runs subscribers inside its own call stack.
      setImmediate(() => events.emit(channel, message));
      return Promise.resolve();
    },
    subscribe(channel, listener) {
      events.on(channel, listener);
      return Promise.resolve(() => {
        events.off(channel, listener);
        return Promise.resolve();
      });
    },
    close() {
      clearInterval(sweep);
      entries.clear();
      events.removeAllListeners();
      return Promise.resolve();
    },
  };
}

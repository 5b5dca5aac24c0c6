/**
 * Hot state shared by every instance of a component: replay caches, counters, short-lived flags
 * and events. One interface, two implementations: process memory (one machine) and Redis (many).
 * Every operation is atomic on its own.
 */
export interface SharedState {
  readonly kind: 'memory' | 'redis';
  /** Stores `value` only if `key` is absent; true when it was stored (replay caches: first use wins). */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** Adds `by` (default 1) to a counter that lives `ttlMs` from its first increment; returns the total. */
  increment(key: string, ttlMs: number, by?: number): Promise<number>;
  /** Delivers `message` to every subscriber of `channel`, in every instance. */
  publish(channel: string, message: string): Promise<void>;
  /** Resolves once subscribed; the returned function unsubscribes. */
  subscribe(channel: string, listener: (message: string) => void): Promise<() => Promise<void>>;
  /**
   * Whether the store can be used right now, subscriptions included. Pub/sub keeps nothing for a
   * subscriber that is away: while this is false, events may be missed and a component that
   * must not miss them reads a durable source instead (the gateway polls the revocation feed).
   * Optional; absent means always (process memory). Cheap enough to call on every scrape or tick.
   */
  isUp?(): boolean;
  close(): Promise<void>;
}

/** The DPoP / assertion replay store of guard, backed by shared state. */
export function sharedReplayStore(
  state: SharedState,
  prefix: string,
  now: () => number = Date.now,
): { checkAndRemember(key: string, expiresAtMs: number): Promise<boolean> } {
  return {
    checkAndRemember: (key, expiresAtMs) =>
      state.setIfAbsent(`${prefix}${key}`, '1', Math.max(1, expiresAtMs - now())),
  };
}

import { createBoundedMap } from './bounded-map.js';

export interface DistinctWindowCounterOptions {
  readonly windowMs: number;
  /** Values stored per key at most: the threshold (past it, the count is all a detector needs). */
  readonly limit: number;
  readonly maxKeys: number;
  /** Values stored over all keys at most; past it the least recently used keys are forgotten. */
  readonly maxValues: number;
}

export interface DistinctWindowCounter {
  /** Records `value` for `key` at `t`; returns the distinct values of the key in the window (≤ limit). */
  add(key: string, value: string, t: number): number;
  /** Distinct values of `key` in the window at `t`, without recording anything. */
  count(key: string, t: number): number;
  /** The values of `key` in the window (oldest first). */
  values(key: string, t: number): string[];
  delete(key: string): void;
  keys(): IterableIterator<string>;
  readonly size: number;
  /** Values stored over all keys. */
  readonly stored: number;
}

interface ValueSet {
  /** value → when last seen; insertion order is (to within `touchMs`) oldest first. */
  readonly seen: Map<string, number>;
  /** When the oldest value leaves the window: no scan is needed before. */
  nextExpiry: number;
  /** The value added last and when it was refreshed: the same again is the common case. */
  last: string | undefined;
  lastAt: number;
}

/**
 * Distinct values per key in a sliding window (distinct object ids per actor, paths per token, IPs
 * per token…). A key stops storing new values once it holds `limit` (the detector's threshold has
 * been reached, more would only cost memory), and all keys together hold at most `maxValues`.
 * Re-seeing a value refreshes it at most once per window/16, so the common case — a value seen
 * again — is one lookup.
 */
export function createDistinctWindowCounter(options: DistinctWindowCounterOptions): DistinctWindowCounter {
  const { windowMs, limit, maxValues } = options;
  if (!(Number.isFinite(windowMs) && windowMs > 0)) throw new RangeError('windowMs must be positive');
  if (!(Number.isSafeInteger(limit) && limit >= 1)) throw new RangeError('limit must be a positive integer');
  if (!(Number.isSafeInteger(maxValues) && maxValues >= 1))
    throw new RangeError('maxValues must be a positive integer');
  const touchMs = windowMs / 16;
  let stored = 0;
  const sets = createBoundedMap<ValueSet>({
    maxKeys: options.maxKeys,
    touchMs,
    onEvict: (_key, set) => {
      stored -= set.seen.size;
    },
  });

  const expire = (set: ValueSet, t: number): void => {
    if (t < set.nextExpiry) return;
    const oldest = t - windowMs;
    set.nextExpiry = Number.POSITIVE_INFINITY;
    for (const [value, seen] of set.seen) {
      if (seen > oldest) {
        set.nextExpiry = seen + windowMs;
        break;
      }
      set.seen.delete(value);
      stored--;
    }
  };

  return {
    add(key, value, t) {
      let set = sets.get(key, t);
      if (set === undefined) {
        set = { seen: new Map(), nextExpiry: Number.POSITIVE_INFINITY, last: undefined, lastAt: 0 };
        sets.set(key, set, t);
      } else {
        expire(set, t);
        // The same token from the same address, the same page again: no second lookup.
        // (Not expired: it was seen at lastAt, less than touchMs ago.)
        if (value === set.last && t >= set.lastAt && t - set.lastAt < touchMs) return set.seen.size;
      }
      const { seen } = set;
      let last = seen.get(value);
      if (last !== undefined) {
        if (t - last >= touchMs) {
          seen.delete(value);
          seen.set(value, t);
          last = t;
          if (seen.size === 1) set.nextExpiry = t + windowMs;
        }
        set.last = value;
        set.lastAt = last;
        return seen.size;
      }
      if (seen.size >= limit) return seen.size;
      seen.set(value, t);
      set.last = value;
      set.lastAt = t;
      stored++;
      if (seen.size === 1) set.nextExpiry = t + windowMs;
      while (stored > maxValues && sets.evictOldest(key));
      return seen.size;
    },
    count(key, t) {
      const set = sets.peek(key);
      if (set === undefined) return 0;
      expire(set, t);
      return set.seen.size;
    },
    values(key, t) {
      const set = sets.peek(key);
      if (set === undefined) return [];
      expire(set, t);
      return [...set.seen.keys()];
    },
    delete(key) {
      const set = sets.peek(key);
      if (set === undefined) return;
      stored -= set.seen.size;
      sets.delete(key);
    },
    *keys() {
      for (const [key] of sets.entries()) yield key;
    },
    get size() {
      return sets.size;
    },
    get stored() {
      return stored;
    },
  };
}

import { createBoundedMap } from './bounded-map.js';

export interface SlidingWindowCounterOptions {
  /** The longest span a sum covers. */
  readonly spanMs: number;
  /** Bucket length: the resolution of every window (a sum covers its span to within one bucket). */
  readonly bucketMs: number;
  readonly maxKeys: number;
}

export interface SlidingWindowCounter {
  /** Adds `by` (default 1) to `key` at `t`; returns the key's sum over the whole span. */
  add(key: string, t: number, by?: number): number;
  /**
   * The sum of `key` over the last `lastMs` (default: the whole span) at `t`, without counting
   * anything or refreshing the key's recency (used while iterating `keys`).
   */
  sum(key: string, t: number, lastMs?: number): number;
  delete(key: string): void;
  /** The keys tracked, least recently used first. */
  keys(): IterableIterator<string>;
  readonly size: number;
}

interface Series {
  readonly counts: Float64Array;
  /** Bucket number (t / bucketMs) of the newest bucket; older ones follow it around the ring. */
  epoch: number;
  /** Sum of `counts`. */
  total: number;
}

/**
 * Per-key event counts in a ring of time buckets: O(1) per event (plus the buckets it rolls past),
 * one small array per key, and at most `maxKeys` keys (least recently used out). Time moving
 * backwards (another instance's clock, a test) counts into the newest bucket.
 */
export function createSlidingWindowCounter(options: SlidingWindowCounterOptions): SlidingWindowCounter {
  const { spanMs, bucketMs } = options;
  if (!(Number.isFinite(bucketMs) && bucketMs > 0)) throw new RangeError('bucketMs must be positive');
  if (!(Number.isFinite(spanMs) && spanMs >= bucketMs))
    throw new RangeError('spanMs must be at least bucketMs');
  const buckets = Math.ceil(spanMs / bucketMs);
  const series = createBoundedMap<Series>({ maxKeys: options.maxKeys, touchMs: bucketMs });

  /** Moves `s` forward to bucket `epoch`, clearing the buckets that fell out of the span. */
  const roll = (s: Series, epoch: number): void => {
    const steps = epoch - s.epoch;
    if (steps <= 0) return;
    if (steps >= buckets) {
      s.counts.fill(0);
      s.total = 0;
    } else {
      for (let i = 1; i <= steps; i++) {
        const index = (s.epoch + i) % buckets;
        s.total -= s.counts[index] as number;
        s.counts[index] = 0;
      }
    }
    s.epoch = epoch;
  };

  return {
    add(key, t, by = 1) {
      const epoch = Math.floor(t / bucketMs);
      let s = series.get(key, t);
      if (s === undefined) {
        s = { counts: new Float64Array(buckets), epoch, total: 0 };
        series.set(key, s, t);
      } else roll(s, epoch);
      const index = s.epoch % buckets;
      s.counts[index] = (s.counts[index] as number) + by;
      s.total += by;
      return s.total;
    },
    sum(key, t, lastMs) {
      const s = series.peek(key);
      if (s === undefined) return 0;
      const epoch = Math.floor(t / bucketMs);
      roll(s, epoch);
      if (lastMs === undefined || lastMs >= spanMs) return s.total;
      const n = Math.min(buckets, Math.max(1, Math.ceil(lastMs / bucketMs)));
      let sum = 0;
      for (let i = 0; i < n; i++) sum += s.counts[(((s.epoch - i) % buckets) + buckets) % buckets] as number;
      return sum;
    },
    delete(key) {
      series.delete(key);
    },
    *keys() {
      for (const [key] of series.entries()) yield key;
    },
    get size() {
      return series.size;
    },
  };
}

import { createBoundedMap } from './bounded-map.js';
import { createDistinctWindowCounter } from './distinct-window-counter.js';
import { createSlidingWindowCounter } from './sliding-window-counter.js';
import {
  NO_VALUES,
  type CounterWindow,
  type CounterWindowSpec,
  type Crossing,
  type DetectorWindows,
  type DistinctWindow,
  type DistinctWindowSpec,
  type WalkWindow,
  type WalkWindowSpec,
  type WindowStore,
} from './window-store.js';

/** What bounds the memory of one detector's windows. */
export interface MemoryWindowLimits {
  readonly maxKeys: number;
  readonly maxValues: number;
}

/** The memory windows answer at once (the hot path awaits nothing). */
export interface MemoryDistinctWindow extends DistinctWindow {
  add(key: string, value: string, t: number): number | Crossing;
  take(key: string, atLeast: number, t: number): boolean;
}
export interface MemoryCounterWindow extends CounterWindow {
  add(key: string, t: number): number | Crossing;
}
export interface MemoryWalkWindow extends WalkWindow {
  step(key: string, n: number, t: number): number;
}

/** Distinct values per key in this process (distinct-window-counter.ts), answering at once. */
export function createMemoryDistinctWindow(
  spec: DistinctWindowSpec,
  limits: MemoryWindowLimits,
): MemoryDistinctWindow {
  const { threshold } = spec;
  const keepValues = spec.keepValues === true;
  const counter = createDistinctWindowCounter({
    windowMs: spec.windowMs,
    limit: spec.limit,
    maxKeys: limits.maxKeys,
    maxValues: limits.maxValues,
  });
  return {
    add(key, value, t) {
      const count = counter.add(key, value, t);
      if (threshold === undefined || count < threshold) return count;
      const values = keepValues ? counter.values(key, t) : NO_VALUES;
      counter.delete(key);
      return { count, values };
    },
    take(key, atLeast, t) {
      if (counter.count(key, t) < atLeast) return false;
      counter.delete(key);
      return true;
    },
    *counts(t) {
      for (const key of counter.keys()) {
        const count = counter.count(key, t);
        if (count > 0) yield [key, count] as const;
      }
    },
  };
}

/** Events per key in a ring of buckets in this process (sliding-window-counter.ts). */
export function createMemoryCounterWindow(
  spec: CounterWindowSpec,
  limits: Pick<MemoryWindowLimits, 'maxKeys'>,
): MemoryCounterWindow {
  const { threshold } = spec;
  const counter = createSlidingWindowCounter({
    spanMs: spec.windowMs,
    bucketMs: spec.windowMs / spec.buckets,
    maxKeys: limits.maxKeys,
  });
  return {
    add(key, t) {
      const count = counter.add(key, t);
      if (count < threshold) return count;
      counter.delete(key);
      return { count, values: NO_VALUES };
    },
  };
}

interface Walk {
  last: number;
  /** +1 or -1 once two ids in a row were consecutive; 0 before. */
  step: number;
  run: number;
  startedAt: number;
}

/**
 * Runs of consecutive numeric ids per key in this process. A run restarts on a gap, on a change of
 * direction, and when it started more than a window ago; the same id again changes nothing.
 */
export function createMemoryWalkWindow(
  spec: WalkWindowSpec,
  limits: Pick<MemoryWindowLimits, 'maxKeys'>,
): MemoryWalkWindow {
  const { windowMs, run: reported } = spec;
  const walks = createBoundedMap<Walk>({ maxKeys: limits.maxKeys, touchMs: windowMs / 16 });
  return {
    step(key, n, t) {
      const walk = walks.get(key, t);
      if (walk === undefined) {
        walks.set(key, { last: n, step: 0, run: 1, startedAt: t }, t);
        return 0;
      }
      const step = n - walk.last;
      if (step === 0) return 0;
      if (
        t - walk.startedAt > windowMs ||
        (step !== 1 && step !== -1) ||
        (walk.step !== 0 && step !== walk.step)
      ) {
        walk.step = 0;
        walk.run = 1;
        walk.startedAt = t;
      } else {
        walk.step = step;
        walk.run++;
      }
      walk.last = n;
      if (walk.run < reported) return 0;
      walks.delete(key);
      return walk.run;
    },
    delete(key) {
      walks.delete(key);
    },
  };
}

/** Windows in process memory: every instance counts its own traffic (the default). */
export function createMemoryWindowStore(): WindowStore {
  return {
    kind: 'memory',
    scope(options): DetectorWindows {
      return {
        distinct: (spec) => createMemoryDistinctWindow(spec, options),
        counter: (spec) => createMemoryCounterWindow(spec, options),
        walk: (spec) => createMemoryWalkWindow(spec, options),
        fail: options.onError,
      };
    },
    close: () => Promise.resolve(),
  };
}

import type { RateLimitRule } from './rate-limit-rule.js';
import {
  RATE_LIMIT_EPSILON as EPS,
  type RateLimitDecision,
  type RateLimitStore,
} from './rate-limit-store.js';

export interface MemoryRateLimitStoreOptions {
  /** Most keys kept (default 100,000): expired ones go first, then the least recently used. */
  readonly maxKeys?: number;
}

export interface MemoryRateLimitStore extends RateLimitStore {
  readonly kind: 'memory';
  hit(rule: RateLimitRule, key: string, nowMs: number): RateLimitDecision;
  /** Keys currently held (expired ones included until swept). */
  readonly size: number;
}

/** State of one key; one shape for both algorithms keeps the map monomorphic. */
interface Entry {
  sliding: boolean;
  /** GCRA: theoretical arrival time of the next request (ms). */
  tat: number;
  /** Sliding window: length, index of the current window and the two counts. */
  windowMs: number;
  index: number;
  current: number;
  previous: number;
  /** When the entry means nothing any more (a full quota). */
  expiresAt: number;
}

/** Whole milliseconds, rounded up, so a client that waits that long is never refused again. */
export function ceilMs(ms: number): number {
  return Math.max(0, Math.ceil(ms - EPS));
}

/**
 * GCRA (generic cell rate algorithm, ITU-T I.371): one timestamp per key. Requests are spaced by the
 * emission interval T = window / limit; the theoretical arrival time (TAT) advances by T per allowed
 * request and a request is allowed while TAT - now stays within the burst capacity burst × T.
 * Returns the new TAT, or undefined when refused. `decision` receives the numbers.
 */
export function decideGcra(
  rule: RateLimitRule,
  storedTat: number | undefined,
  nowMs: number,
): { readonly decision: RateLimitDecision; readonly tat: number | undefined } {
  const interval = rule.windowMs / rule.limit;
  const capacity = interval * (rule.burst ?? rule.limit);
  const tat = storedTat === undefined || storedTat < nowMs ? nowMs : storedTat;
  const next = tat + interval;
  const diff = next - nowMs;
  if (diff > capacity + EPS) {
    return {
      decision: {
        allowed: false,
        limit: rule.limit,
        remaining: 0,
        resetMs: ceilMs(tat - nowMs),
        retryAfterMs: ceilMs(diff - capacity),
      },
      tat: undefined,
    };
  }
  return {
    decision: {
      allowed: true,
      limit: rule.limit,
      remaining: Math.floor((capacity - diff) / interval + EPS),
      resetMs: ceilMs(diff),
      retryAfterMs: 0,
    },
    tat: next,
  };
}

/**
 * Sliding window, weighted two-window counter (the Cloudflare/nginx approximation): windows are
 * aligned on multiples of the window length; the previous window's count is weighted by the part
 * of it that still overlaps the sliding window ending now. `elapsedMs` is now minus the start of
 * the current window.
 */
export function decideSlidingWindow(
  rule: RateLimitRule,
  previous: number,
  current: number,
  elapsedMs: number,
): RateLimitDecision {
  const window = rule.windowMs;
  const count = (previous * (window - elapsedMs)) / window + current;
  if (count + 1 > rule.limit + EPS) {
    const need = rule.limit - 1;
    // Refused: wait until the weighted count has fallen to limit - 1. Either the previous window's
    // share decays far enough within this window, or (this window alone is over) the next window
    // has to decay this one's count.
    const wait =
      current > need
        ? window - elapsedMs + window * (1 - need / current)
        : window - elapsedMs - ((need - current) * window) / previous;
    return {
      allowed: false,
      limit: rule.limit,
      remaining: 0,
      resetMs: ceilMs(current > 0 ? 2 * window - elapsedMs : window - elapsedMs),
      retryAfterMs: Math.max(1, ceilMs(wait)),
    };
  }
  return {
    allowed: true,
    limit: rule.limit,
    remaining: Math.floor(rule.limit - (count + 1) + EPS),
    // This window's count stops weighing at the end of the next one.
    resetMs: ceilMs(2 * window - elapsedMs),
    retryAfterMs: 0,
  };
}

/**
 * Rate-limit state in process memory: synchronous (no promise on the hot path), exact, bounded.
 * Right for one instance, and the fallback of a failing shared store.
 */
export function createMemoryRateLimitStore(options: MemoryRateLimitStoreOptions = {}): MemoryRateLimitStore {
  const maxKeys = options.maxKeys ?? 100_000;
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError('maxKeys must be a positive integer');
  // Evicting by 1% at a time makes the full sweep below run once per maxKeys/100 new keys.
  const headroom = Math.max(1, Math.floor(maxKeys / 100));
  const entries = new Map<string, Entry>();
  // The key inserted last is already at the back of the map: touching it again moves nothing, and
  // skipping the delete + set keeps a hot key (one busy client) from churning the map's table.
  let newest: string | undefined;

  const makeRoom = (nowMs: number): void => {
    for (const [key, entry] of entries) if (entry.expiresAt <= nowMs) entries.delete(key);
    if (entries.size < maxKeys) return;
    // Map order is recency (every hit re-inserts its key): the front is the least recently used.
    for (const key of entries.keys()) {
      if (entries.size <= maxKeys - headroom) break;
      entries.delete(key);
    }
  };

  const lookup = (key: string, nowMs: number): Entry | undefined => {
    const entry = entries.get(key);
    if (entry !== undefined) {
      if (key !== newest) {
        entries.delete(key);
        entries.set(key, entry);
        newest = key;
      }
      return entry;
    }
    if (entries.size >= maxKeys) makeRoom(nowMs);
    return undefined;
  };

  const hitGcra = (rule: RateLimitRule, key: string, nowMs: number): RateLimitDecision => {
    const entry = lookup(key, nowMs);
    const stored = entry?.sliding === false ? entry.tat : undefined;
    const { decision, tat } = decideGcra(rule, stored, nowMs);
    if (tat === undefined) return decision;
    if (entry === undefined) {
      newest = key;
      entries.set(key, {
        sliding: false,
        tat,
        windowMs: 0,
        index: 0,
        current: 0,
        previous: 0,
        expiresAt: tat,
      });
    } else {
      entry.sliding = false;
      entry.tat = tat;
      entry.expiresAt = tat;
    }
    return decision;
  };

  const hitSliding = (rule: RateLimitRule, key: string, nowMs: number): RateLimitDecision => {
    const window = rule.windowMs;
    const entry = lookup(key, nowMs);
    let index = Math.floor(nowMs / window);
    let current = 0;
    let previous = 0;
    if (entry?.sliding === true && entry.windowMs === window) {
      // A clock that steps back (an injected one) counts in the latest window seen.
      index = Math.max(index, entry.index);
      if (entry.index === index) {
        current = entry.current;
        previous = entry.previous;
      } else if (entry.index === index - 1) {
        previous = entry.current;
      }
    }
    const elapsed = Math.max(0, nowMs - index * window);
    const decision = decideSlidingWindow(rule, previous, current, elapsed);
    // A refused request is not counted; the stored window rolls over by itself on the next hit.
    if (!decision.allowed) return decision;
    const expiresAt = (index + 2) * window;
    if (entry === undefined) {
      newest = key;
      entries.set(key, {
        sliding: true,
        tat: 0,
        windowMs: window,
        index,
        current: current + 1,
        previous,
        expiresAt,
      });
    } else {
      entry.sliding = true;
      entry.windowMs = window;
      entry.index = index;
      entry.current = current + 1;
      entry.previous = previous;
      entry.expiresAt = expiresAt;
    }
    return decision;
  };

  return {
    kind: 'memory',
    hit: (rule, key, nowMs) =>
      rule.algorithm === 'gcra' ? hitGcra(rule, key, nowMs) : hitSliding(rule, key, nowMs),
    get size() {
      return entries.size;
    },
    close() {
      entries.clear();
      newest = undefined;
      return Promise.resolve();
    },
  };
}

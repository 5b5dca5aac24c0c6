/**
 * An open-loop load at a fixed rate: operations start on a schedule (rate × elapsed time), whether
 * or not earlier ones have finished, as independent clients would; a slow stack therefore shows as
 * latency and a growing number in flight, not as a lower rate. Past `maxInFlight` operations the
 * scheduled ones are skipped and counted (the generator or the stack cannot keep up: the run is not
 * a soak at the rate asked).
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

/** How often the scheduler wakes up to start the operations that are due. */
const TICK_MS = 5;

/** Time given to the operations still in flight when the duration is over. */
const DRAIN_MS = 35_000;

/**
 * A small, fast, seeded generator (mulberry32): the same seed gives the same mix of operations.
 * @param {number} seed
 * @returns {() => number} Uniform in [0, 1).
 */
export function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * @typedef {object} LoadResult
 * @property {number} scheduled Operations due over the duration.
 * @property {number} started
 * @property {number} skipped Due but not started (too many in flight).
 * @property {number} failed Operations that threw (a scenario could not go on; counted as unexpected).
 * @property {Record<string, number>} startedById
 * @property {{ id: string, message: string }[]} failures The first ones.
 * @property {number} elapsedMs
 * @property {number} maxInFlightSeen
 * @property {number} undrained Still in flight after the drain time.
 */

/**
 * @param {object} options
 * @param {readonly import('./scenarios.mjs').Operation[]} options.operations
 * @param {number} options.rate Operations per second.
 * @param {number} options.durationMs
 * @param {number} options.maxInFlight
 * @param {() => number} options.random
 * @param {AbortSignal} [options.signal] Stops the load early.
 * @returns {Promise<LoadResult>}
 */
export async function runLoad({ operations, rate, durationMs, maxInFlight, random, signal }) {
  const total = operations.reduce((sum, op) => sum + op.weight, 0);
  const pick = () => {
    let r = random() * total;
    for (const op of operations) {
      r -= op.weight;
      if (r < 0) return op;
    }
    return /** @type {import('./scenarios.mjs').Operation} */ (operations.at(-1));
  };
  /** @type {Set<Promise<void>>} */
  const running = new Set();
  /** @type {Record<string, number>} */
  const startedById = {};
  /** @type {{ id: string, message: string }[]} */
  const failures = [];
  let scheduled = 0;
  let skipped = 0;
  let failed = 0;
  let maxInFlightSeen = 0;
  const start = performance.now();
  let elapsed = 0;
  while (signal?.aborted !== true) {
    elapsed = performance.now() - start;
    if (elapsed >= durationMs) break;
    const due = Math.floor((rate * elapsed) / 1000);
    while (scheduled < due) {
      scheduled++;
      if (running.size >= maxInFlight) {
        skipped++;
        continue;
      }
      const op = pick();
      startedById[op.id] = (startedById[op.id] ?? 0) + 1;
      const task = op
        .run()
        .catch((/** @type {unknown} */ err) => {
          failed++;
          if (failures.length < 20)
            failures.push({ id: op.id, message: err instanceof Error ? err.message : String(err) });
        })
        .finally(() => running.delete(task));
      running.add(task);
      maxInFlightSeen = Math.max(maxInFlightSeen, running.size);
    }
    await sleep(TICK_MS);
  }
  const drained = await Promise.race([
    Promise.allSettled([...running]).then(() => true),
    sleep(DRAIN_MS, false, { ref: false }),
  ]);
  return {
    scheduled,
    started: scheduled - skipped,
    skipped,
    failed,
    startedById,
    failures,
    elapsedMs: elapsed,
    maxInFlightSeen,
    undrained: drained ? 0 : running.size,
  };
}

/**
 * Timing primitives shared by the benchmarks: fixed-time slices of sequential awaited calls,
 * contenders alternated in rotated rounds (so slow machine drift hits every contender alike),
 * and per-call latency sampling.
 */

/**
 * @typedef {object} Contender
 * @property {string} id Stable key used in the JSON output.
 * @property {string} label Human-readable name for tables.
 * @property {() => Promise<unknown>} run One operation; awaited before the next starts.
 */

/**
 * @typedef {object} SliceResult
 * @property {number} ops Operations completed.
 * @property {number} elapsedNs Wall time the slice really took.
 * @property {number} opsPerSec
 * @property {number} usPerOp Mean latency over the slice, microseconds.
 * @property {number} cpuSecPer10k CPU time of this process (user + system) per 10 000 operations.
 */

/**
 * Operations between two clock reads: reading the clock every call would cost a visible share of a
 * microsecond-scale operation (a cache hit); 16 calls of the slowest contender overshoot a slice
 * by about a millisecond at most, and the real elapsed time is what ops/s divides by anyway.
 */
const BATCH = 16;

/**
 * Runs `fn` sequentially, awaiting each call, for at least `ms` milliseconds.
 * @param {() => Promise<unknown>} fn
 * @param {number} ms
 * @returns {Promise<SliceResult>}
 */
export async function runSlice(fn, ms) {
  const budgetNs = BigInt(Math.round(ms * 1e6));
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  let ops = 0;
  let elapsed = 0n;
  do {
    for (let i = 0; i < BATCH; i++) await fn();
    ops += BATCH;
    elapsed = process.hrtime.bigint() - start;
  } while (elapsed < budgetNs);
  const cpu = process.cpuUsage(cpuBefore);
  const elapsedNs = Number(elapsed);
  return {
    ops,
    elapsedNs,
    opsPerSec: (ops * 1e9) / elapsedNs,
    usPerOp: elapsedNs / 1e3 / ops,
    // Includes the thread pool's CPU (WebCrypto and node:crypto callbacks run there).
    cpuSecPer10k: ((cpu.user + cpu.system) / 1e6 / ops) * 10_000,
  };
}

/**
 * The order of round `round`: contenders rotated left by `round`, so each one takes every
 * position (first, middle, last) equally often over the rounds.
 * @template T
 * @param {readonly T[]} items
 * @param {number} round
 * @returns {T[]}
 */
export function rotate(items, round) {
  const shift = items.length === 0 ? 0 : round % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/**
 * Warms every contender up, then runs `rounds` rounds of one slice per contender, order rotated each
 * round. Returns every slice of every contender, in round order.
 * @param {readonly Contender[]} contenders
 * @param {{ rounds: number, sliceMs: number, warmupMs: number, onSlice?: (c: Contender, round: number, r: SliceResult) => void }} options
 * @returns {Promise<Map<string, SliceResult[]>>}
 */
export async function runRounds(contenders, options) {
  for (const contender of contenders) await runSlice(contender.run, options.warmupMs);
  /** @type {Map<string, SliceResult[]>} */
  const slices = new Map(contenders.map((c) => [c.id, []]));
  for (let round = 0; round < options.rounds; round++) {
    for (const contender of rotate(contenders, round)) {
      const result = await runSlice(contender.run, options.sliceMs);
      slices.get(contender.id)?.push(result);
      options.onSlice?.(contender, round, result);
    }
  }
  return slices;
}

/**
 * Times single calls, up to `maxSamples` calls or `ms` milliseconds, for a latency distribution.
 * Each sample includes one clock read (tens of nanoseconds), which matters only for cache hits.
 * @param {() => Promise<unknown>} fn
 * @param {{ ms: number, maxSamples: number }} options
 * @returns {Promise<{ samples: number, p50Us: number, p90Us: number, p99Us: number }>}
 */
export async function sampleLatency(fn, options) {
  const durations = new Float64Array(options.maxSamples);
  const deadline = process.hrtime.bigint() + BigInt(Math.round(options.ms * 1e6));
  let n = 0;
  let before = process.hrtime.bigint();
  while (n < durations.length) {
    await fn();
    const after = process.hrtime.bigint();
    durations[n++] = Number(after - before) / 1e3;
    if (after >= deadline) break;
    before = process.hrtime.bigint();
  }
  const sorted = durations.subarray(0, n).sort();
  return {
    samples: n,
    p50Us: quantile(sorted, 0.5),
    p90Us: quantile(sorted, 0.9),
    p99Us: quantile(sorted, 0.99),
  };
}

/**
 * Nearest-rank quantile of an ascending array.
 * @param {ArrayLike<number>} sorted
 * @param {number} q
 * @returns {number}
 */
export function quantile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return /** @type {number} */ (sorted[index]);
}

/**
 * Mean and percentiles (nearest rank) of latencies already sorted in ascending order.
 * @param {ArrayLike<number> & { reduce: Float64Array['reduce'] }} sorted
 * @returns {{ mean: number, p50: number, p90: number, p99: number, max: number }}
 */
export function latencySummary(sorted) {
  return {
    mean: sorted.length === 0 ? Number.NaN : sorted.reduce((a, b) => a + b, 0) / sorted.length,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: quantile(sorted, 1),
  };
}

/**
 * @param {readonly number[]} values
 * @returns {number}
 */
export function median(values) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? /** @type {number} */ (sorted[mid])
    : /** @type {number} */ (sorted[mid - 1] + /** @type {number} */ (sorted[mid])) / 2;
}

/**
 * Reads a positive integer from the environment, or the default.
 * @param {string} name
 * @param {number} fallback
 * @returns {number}
 */
export function envInt(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return value;
}

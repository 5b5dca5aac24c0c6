/**
 * The soak's verdict: whether memory and open handles grow once the stack is warm, and whether the
 * load ran as asked without server errors. Pure functions of the samples, so that they can be
 * checked on synthetic series (`verdict.test.mjs`).
 *
 * Growth of a metric is measured two ways after the warm-up: the median of the last span minus the
 * median of the first span after the warm-up (robust to single outliers and to garbage-collection
 * sawtooth shorter than a span), and the least-squares slope over every sample after the warm-up.
 */
import { median } from '../lib/harness.mjs';

export const MIB = 1024 * 1024;

/**
 * The bounds (docs/soak.md explains each).
 * - RSS: the allocator keeps pages it freed and V8 grows its young generation under load, so RSS
 *   moves by tens of MiB without any leak; it fails only when it grows by more than 20 % of its
 *   baseline **and** more than 50 MiB.
 * - Heap (the V8 heap after full collections): fails when it grows by more than 8 MiB **and** its
 *   slope exceeds 1 MiB per minute. At the soak's default rate (about 50 requests a second), 1 MiB a
 *   minute is about 350 bytes kept per request: one leaked object per request shows. Both must
 *   agree so that one unlucky reading does not fail a run.
 * - Open file descriptors. Under load most of them are sockets, whose number follows the requests in
 *   flight (latency times rate), so their trend under load says more about the machine than about
 *   leaks: under load, the other descriptors (files, pipes, event descriptors) fail when they grow by
 *   50 or more; all of them are also counted idle, before the load and up to 90 s after it (idle
 *   keep-alive connections are closed after at most 72 s), where 10 or more than before the load
 *   fail (a socket or file leaked once in thousands of requests shows there, whatever the latency).
 * - Errors (5xx answers, transport errors) anywhere in the run, warm-up included: none allowed.
 * - The load: at least 95 % of the scheduled operations started; answers other than the expected
 *   ones at most 0.1 % of the requests (else the run did not apply the load it claims).
 * - Every process of the stack alive throughout, and a clean stop (exit code 0) at the end: a
 *   handle that keeps a process from exiting is a leak too.
 */
export const BOUNDS = Object.freeze({
  rssGrowthShare: 0.2,
  rssGrowthBytes: 50 * MIB,
  heapGrowthBytes: 8 * MIB,
  heapSlopeBytesPerMin: 1 * MIB,
  fdGrowth: 50,
  idleFdGrowth: 10,
  maxErrors: 0,
  minStartedShare: 0.95,
  maxUnexpectedShare: 0.001,
});

/**
 * @typedef {object} Plan
 * @property {number} durationSec
 * @property {number} warmupSec Samples before this are not judged.
 * @property {[number, number]} baseline The first span after the warm-up.
 * @property {[number, number]} final The last span of the run.
 */

/**
 * Spans of the analysis: for the default 600 s, warm-up 0-120 s, baseline 120-240 s (minutes
 * 2-4), final 480-600 s (the last 2 minutes). Shorter runs scale down: warm-up a fifth of the run,
 * each span a quarter of what remains.
 * @param {number} durationSec
 * @param {number} [warmupSec]
 * @returns {Plan}
 */
export function planSpans(durationSec, warmupSec) {
  const warmup = warmupSec ?? Math.min(120, durationSec / 5);
  const span = Math.min(120, (durationSec - warmup) / 4);
  return {
    durationSec,
    warmupSec: warmup,
    baseline: [warmup, warmup + span],
    final: [durationSec - span, durationSec],
  };
}

/** @typedef {{ t: number, v: number }} Point Seconds since the load started, and a value. */

/**
 * @typedef {object} Trend
 * @property {number} baseline Median over the baseline span.
 * @property {number} final Median over the final span.
 * @property {number} growth final - baseline.
 * @property {number} growthShare growth / baseline.
 * @property {number} slopePerMin Least-squares slope over the samples after the warm-up, per minute.
 * @property {number} max Largest value after the warm-up.
 * @property {number} points Samples after the warm-up.
 */

/**
 * @param {readonly Point[]} series
 * @param {Plan} plan
 * @returns {Trend}
 */
export function trendOf(series, plan) {
  const valid = series.filter((p) => Number.isFinite(p.v));
  const within = (/** @type {[number, number]} */ [from, to]) =>
    valid.filter((p) => p.t >= from && p.t <= to).map((p) => p.v);
  const after = valid.filter((p) => p.t >= plan.warmupSec);
  const baseline = median(within(plan.baseline));
  const final = median(within(plan.final));
  return {
    baseline,
    final,
    growth: final - baseline,
    growthShare: (final - baseline) / baseline,
    slopePerMin: slope(after) * 60,
    max: after.reduce((m, p) => Math.max(m, p.v), Number.NEGATIVE_INFINITY),
    points: after.length,
  };
}

/**
 * Least-squares slope of v over t (per second); NaN with fewer than 2 distinct times.
 * @param {readonly Point[]} points
 */
export function slope(points) {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const meanT = points.reduce((s, p) => s + p.t, 0) / n;
  const meanV = points.reduce((s, p) => s + p.v, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - meanT) * (p.v - meanV);
    den += (p.t - meanT) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

/**
 * @typedef {object} ProcessSeries
 * @property {string} role
 * @property {readonly Point[]} rss Bytes.
 * @property {readonly Point[]} heap Bytes of V8 heap after full collections.
 * @property {readonly Point[]} fds Open file descriptors other than sockets, under load.
 * @property {readonly Point[]} sockets Open sockets under load (reported, not judged).
 * @property {number} idleFdsBefore Open file descriptors of the idle stack before the load.
 * @property {number} idleFdsAfter The same after the load.
 */

/**
 * @typedef {object} Check
 * @property {string} id
 * @property {string} subject A process role, or `load` / `stack`.
 * @property {boolean} pass
 * @property {string} detail What was measured against which bound, in words.
 */

/**
 * @typedef {object} RunFacts
 * @property {readonly ProcessSeries[]} processes
 * @property {number} requests
 * @property {number} errors 5xx answers and transport errors.
 * @property {number} unexpected
 * @property {number} scheduled
 * @property {number} started
 * @property {number} failedOperations Scenario steps that could not go on.
 * @property {readonly string[]} exitedProcesses Roles of processes that were gone before the end.
 * @property {number | null} stopExitCode Exit code of `gatehouse up` after SIGINT.
 */

/**
 * @param {number} bytes
 * @param {number} [decimals]
 */
export function mib(bytes, decimals = 1) {
  return `${(bytes / MIB).toFixed(decimals)} MiB`;
}

/**
 * @param {number} value
 * @param {number} [decimals]
 */
const signed = (value, decimals = 1) => `${value >= 0 ? '+' : ''}${value.toFixed(decimals)}`;

/**
 * Every check of the verdict, in a stable order.
 * @param {RunFacts} facts
 * @param {Plan} plan
 * @returns {{ pass: boolean, checks: Check[], trends: Record<string, Record<'rss' | 'heap' | 'fds' | 'sockets', Trend>> }}
 */
export function judge(facts, plan) {
  /** @type {Check[]} */
  const checks = [];
  /** @type {Record<string, Record<'rss' | 'heap' | 'fds' | 'sockets', Trend>>} */
  const trends = {};
  for (const proc of facts.processes) {
    const rss = trendOf(proc.rss, plan);
    const heap = trendOf(proc.heap, plan);
    const fds = trendOf(proc.fds, plan);
    trends[proc.role] = { rss, heap, fds, sockets: trendOf(proc.sockets, plan) };

    const rssBound = Math.max(BOUNDS.rssGrowthShare * rss.baseline, BOUNDS.rssGrowthBytes);
    checks.push({
      id: 'rss',
      subject: proc.role,
      pass: Number.isFinite(rss.growth) && rss.growth <= rssBound,
      detail: Number.isFinite(rss.growth)
        ? `RSS ${mib(rss.baseline)} -> ${mib(rss.final)} (${signed(rss.growth / MIB)} MiB, ${signed(rss.growthShare * 100)} %), ` +
          `bound +${mib(rssBound, 0)} (20 % of baseline or 50 MiB, the larger)`
        : 'no RSS readings in a span',
    });

    const heapGrows = heap.growth > BOUNDS.heapGrowthBytes && heap.slopePerMin > BOUNDS.heapSlopeBytesPerMin;
    checks.push({
      id: 'heap',
      subject: proc.role,
      pass: Number.isFinite(heap.growth) && Number.isFinite(heap.slopePerMin) && !heapGrows,
      detail:
        Number.isFinite(heap.growth) && Number.isFinite(heap.slopePerMin)
          ? `heap after full GC ${mib(heap.baseline)} -> ${mib(heap.final)} (${signed(heap.growth / MIB)} MiB), ` +
            `slope ${signed(heap.slopePerMin / MIB, 2)} MiB/min; fails above +${mib(BOUNDS.heapGrowthBytes, 0)} and +${mib(BOUNDS.heapSlopeBytesPerMin, 0)}/min together`
          : 'no heap readings in a span (is the probe loaded?)',
    });

    checks.push({
      id: 'fds',
      subject: proc.role,
      pass: Number.isFinite(fds.growth) && fds.growth < BOUNDS.fdGrowth,
      detail: Number.isFinite(fds.growth)
        ? `open fds other than sockets ${fds.baseline} -> ${fds.final} (${signed(fds.growth, 0)}, max ${fds.max}), bound +${BOUNDS.fdGrowth}`
        : 'no fd readings in a span',
    });

    const idleGrowth = proc.idleFdsAfter - proc.idleFdsBefore;
    checks.push({
      id: 'idle-fds',
      subject: proc.role,
      pass: Number.isFinite(idleGrowth) && idleGrowth < BOUNDS.idleFdGrowth,
      detail: Number.isFinite(idleGrowth)
        ? `open fds idle ${proc.idleFdsBefore} before the load, ${proc.idleFdsAfter} after (${signed(idleGrowth, 0)}), bound +${BOUNDS.idleFdGrowth}`
        : 'no idle reading',
    });
  }

  checks.push({
    id: 'errors',
    subject: 'load',
    pass: facts.errors <= BOUNDS.maxErrors,
    detail: `${facts.errors} 5xx or transport errors in ${facts.requests} requests (warm-up included), bound 0`,
  });
  const startedShare = facts.scheduled === 0 ? 0 : facts.started / facts.scheduled;
  checks.push({
    id: 'rate',
    subject: 'load',
    pass: startedShare >= BOUNDS.minStartedShare,
    detail: `${facts.started} of ${facts.scheduled} scheduled operations started (${(startedShare * 100).toFixed(1)} %), bound 95 %`,
  });
  const unexpected = facts.unexpected + facts.failedOperations;
  const unexpectedShare = facts.requests === 0 ? 1 : unexpected / facts.requests;
  checks.push({
    id: 'answers',
    subject: 'load',
    pass: unexpectedShare <= BOUNDS.maxUnexpectedShare,
    detail:
      `${facts.unexpected} unexpected answers and ${facts.failedOperations} interrupted operations ` +
      `(${(unexpectedShare * 100).toFixed(3)} % of requests), bound 0.1 %`,
  });
  checks.push({
    id: 'alive',
    subject: 'stack',
    pass: facts.exitedProcesses.length === 0,
    detail:
      facts.exitedProcesses.length === 0
        ? 'every process ran from start to end'
        : `gone before the end: ${facts.exitedProcesses.join(', ')}`,
  });
  checks.push({
    id: 'stop',
    subject: 'stack',
    pass: facts.stopExitCode === 0,
    detail: `gatehouse up exited with ${String(facts.stopExitCode)} after SIGINT (0 expected)`,
  });
  return { pass: checks.every((c) => c.pass), checks, trends };
}

/**
 * Counts every request of the soak: per label over the whole run (statuses, latency percentiles) and
 * per sampling window (requests, errors, latency p50/p99). An error is a 5xx or a transport error
 * (no answer, reset, timeout); an unexpected answer is any other status than the one the scenario
 * expects (a refused call that is let through counts, so does an admitted call that is refused).
 */
import { quantile } from '../lib/harness.mjs';

/** Error and unexpected answers kept verbatim (the first ones) for the report. */
const MAX_EXAMPLES = 20;

/**
 * @typedef {object} LabelStats
 * @property {number} count
 * @property {number} errors
 * @property {number} unexpected
 * @property {Record<string, number>} statuses
 * @property {number[]} latenciesMs
 */

/**
 * @typedef {object} WindowStats
 * @property {number} requests
 * @property {number} errors
 * @property {number} unexpected
 * @property {number} p50Ms
 * @property {number} p99Ms
 */

/**
 * @typedef {object} Example
 * @property {number} atSec Seconds since the load started (negative: during setup).
 * @property {string} label
 * @property {number} status
 * @property {string} [error]
 * @property {string} [expected]
 * @property {string} [body] Start of a non-2xx body (never a token: only error bodies are kept).
 */

/** @param {() => number} now Seconds since the load started. */
export function createRecorder(now) {
  /** @type {Map<string, LabelStats>} */
  const labels = new Map();
  let window = { requests: 0, errors: 0, unexpected: 0, /** @type {number[]} */ latenciesMs: [] };
  /** @type {Example[]} */
  const errorExamples = [];
  /** @type {Example[]} */
  const unexpectedExamples = [];
  let errors = 0;
  let unexpected = 0;
  let requests = 0;

  return {
    /**
     * @param {string} label
     * @param {import('./http-client.mjs').Answer} answer
     * @param {boolean} asExpected Status (and body, where checked) as the scenario expects.
     * @param {string} expected What was expected, for the report.
     */
    record(label, answer, asExpected, expected) {
      let stats = labels.get(label);
      if (stats === undefined) {
        stats = { count: 0, errors: 0, unexpected: 0, statuses: {}, latenciesMs: [] };
        labels.set(label, stats);
      }
      const key = answer.status === 0 ? `error:${answer.error ?? 'unknown'}` : String(answer.status);
      stats.statuses[key] = (stats.statuses[key] ?? 0) + 1;
      stats.count++;
      stats.latenciesMs.push(answer.ms);
      window.requests++;
      window.latenciesMs.push(answer.ms);
      requests++;
      const isError = answer.status === 0 || answer.status >= 500;
      const example = () => ({
        atSec: Math.round(now() * 10) / 10,
        label,
        status: answer.status,
        ...(answer.error === undefined ? {} : { error: answer.error }),
        expected,
        ...(answer.status >= 300 ? { body: answer.text.slice(0, 200) } : {}),
      });
      if (isError) {
        stats.errors++;
        window.errors++;
        errors++;
        if (errorExamples.length < MAX_EXAMPLES) errorExamples.push(example());
      } else if (!asExpected) {
        stats.unexpected++;
        window.unexpected++;
        unexpected++;
        if (unexpectedExamples.length < MAX_EXAMPLES) unexpectedExamples.push(example());
      }
    },

    /** The window since the previous call, then a new window. @returns {WindowStats} */
    takeWindow() {
      const sorted = Float64Array.from(window.latenciesMs).sort();
      const taken = {
        requests: window.requests,
        errors: window.errors,
        unexpected: window.unexpected,
        p50Ms: quantile(sorted, 0.5),
        p99Ms: quantile(sorted, 0.99),
      };
      window = { requests: 0, errors: 0, unexpected: 0, latenciesMs: [] };
      return taken;
    },

    totals() {
      return {
        requests,
        errors,
        unexpected,
        errorExamples,
        unexpectedExamples,
        labels: [...labels].map(([label, stats]) => {
          const sorted = Float64Array.from(stats.latenciesMs).sort();
          return {
            label,
            count: stats.count,
            errors: stats.errors,
            unexpected: stats.unexpected,
            statuses: stats.statuses,
            p50Ms: quantile(sorted, 0.5),
            p99Ms: quantile(sorted, 0.99),
          };
        }),
      };
    },
  };
}

/** @typedef {ReturnType<typeof createRecorder>} Recorder */

/**
 * Load at a fixed rate (open loop), for latency below saturation: requests leave on a schedule of
 * `rate` per second whatever the answers, over up to `connections` keep-alive connections (a request
 * finding them all busy waits in the pool's queue, and that wait counts in its latency).
 *
 * Why not autocannon's `overallRate`: it is a budget per connection and per second; each connection
 * sends back to back, as in the closed-loop slices, until its share of the second is spent, then
 * waits for the next second. Half the rate on average is then full load for half of every second,
 * and the latency it reports is close to the saturated one.
 *
 * The client is an undici `Pool` (the gateway's undici, as in servers/minimal-proxy.mjs) driven with
 * `dispatch` and a handler: a few microseconds per request, where node:http's client costs enough to
 * fall behind the schedule on a busy two-core machine. The schedule is kept with a 1 ms timer: each
 * tick sends the requests whose time has come (a few per tick at these rates). A request's latency
 * runs from the moment it is dispatched to the end of its answer; the timer's lateness is recorded
 * apart (`lagMs`), as the generator's own.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { latencySummary, quantile } from '../lib/harness.mjs';

// The undici the gateway runs on (a dependency of packages/gateway, not of the benchmark).
const gatewayPackage = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../packages/gateway/package.json',
);
const { Pool } = /** @type {typeof import('undici')} */ (createRequire(gatewayPackage)('undici'));

/**
 * @typedef {object} PacedResult
 * @property {number} rate Requests per second asked for.
 * @property {number} requests Answers received on schedule (the `connections` requests that open
 *   the connections first are not timed; their answers are checked and counted in `statusCodes`).
 * @property {number} durationSec
 * @property {number} reqPerSec Answers per second.
 * @property {{ mean: number, p50: number, p90: number, p99: number, max: number }} latencyMs Of the
 *   2xx answers with the expected body.
 * @property {number} non2xx
 * @property {number} errors Connection errors and timeouts.
 * @property {number} mismatches 2xx answers without the expected body.
 * @property {Record<string, number>} statusCodes
 * @property {{ p50: number, p99: number }} wireLatencyMs The same answers timed from the moment the
 *   request was written to its connection: without the wait for a free connection.
 * @property {{ p99: number, max: number }} lagMs How late the timer sent requests.
 * @property {number} maxInFlight
 */

/**
 * @param {{ url: string, headers: Record<string, string>, rate: number, ms: number,
 *   connections: number, expect: string, timeoutMs?: number }} options
 * @returns {Promise<PacedResult>}
 */
export async function runPacedLoad({ url, headers, rate, ms, connections, expect, timeoutMs = 10_000 }) {
  const target = new URL(url);
  const pool = new Pool(target.origin, {
    connections,
    pipelining: 1,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const requestPath = `${target.pathname}${target.search}`;
  const expected = Buffer.from(expect);
  /** @type {number[]} */
  const latencies = [];
  /** @type {number[]} */
  const wire = [];
  /** @type {number[]} */
  const lags = [];
  /** @type {Record<string, number>} */
  const statusCodes = {};
  let non2xx = 0;
  let errors = 0;
  let mismatches = 0;
  let answered = 0;
  let inFlight = 0;
  let maxInFlight = 0;

  /** One request; resolves when its answer has been read (or failed). */
  const send = () =>
    new Promise((resolve) => {
      const started = performance.now();
      let written = started;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      let status = 0;
      /** @type {Buffer[]} */
      const chunks = [];
      pool.dispatch(
        { method: 'GET', path: requestPath, headers },
        {
          // Called as the request is written to a connection.
          onConnect() {
            written = performance.now();
          },
          onError() {
            errors++;
            inFlight--;
            resolve(undefined);
          },
          onHeaders(statusCode) {
            status = statusCode;
            return true;
          },
          onData(chunk) {
            chunks.push(chunk);
            return true;
          },
          onComplete() {
            const now = performance.now();
            const elapsed = now - started;
            statusCodes[status] = (statusCodes[status] ?? 0) + 1;
            answered++;
            if (status < 200 || status >= 300) non2xx++;
            else if (!Buffer.concat(chunks).includes(expected)) mismatches++;
            else {
              latencies.push(elapsed);
              wire.push(now - written);
            }
            inFlight--;
            resolve(undefined);
          },
        },
      );
    });

  // Open the connections first (untimed: a new TCP connection is not what is measured). Their
  // answers are checked and counted in the status codes and failures like the others.
  await Promise.all(Array.from({ length: connections }, send));
  latencies.length = 0;
  wire.length = 0;
  answered = 0;
  maxInFlight = 0;

  /** @type {Promise<unknown>[]} */
  const pending = [];
  const intervalMs = 1000 / rate;
  const total = Math.round((rate * ms) / 1000);
  const start = performance.now();
  let sent = 0;
  await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - start) / intervalMs) + 1);
      for (; sent < due; sent++) {
        lags.push(now - (start + sent * intervalMs));
        pending.push(send());
      }
      if (sent < total) setTimeout(tick, 1);
      else resolve(undefined);
    };
    tick();
  });
  await Promise.all(pending);
  const durationSec = (performance.now() - start) / 1000;
  await pool.close();

  const sorted = Float64Array.from(latencies).sort();
  const sortedLags = Float64Array.from(lags).sort();
  const sortedWire = Float64Array.from(wire).sort();
  return {
    rate,
    requests: answered,
    durationSec,
    reqPerSec: answered / durationSec,
    latencyMs: latencySummary(sorted),
    non2xx,
    errors,
    mismatches,
    statusCodes,
    wireLatencyMs: { p50: quantile(sortedWire, 0.5), p99: quantile(sortedWire, 0.99) },
    lagMs: { p99: quantile(sortedLags, 0.99), max: quantile(sortedLags, 1) },
    maxInFlight,
  };
}

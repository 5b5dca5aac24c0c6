/**
 * Preloaded into every Node process of the soaked stack (`NODE_OPTIONS=--import=<this file>`, which
 * `gatehouse up` passes on to the components it starts): the V8 heap and the event-loop delay are
 * only visible from inside a process, and the components do not export them on /metrics. The
 * product is not changed; without `GATEHOUSE_SOAK_PROBE_DIR` this module does nothing.
 *
 * Every `GATEHOUSE_SOAK_PROBE_MS` the process writes `<dir>/<pid>.json` (to a temporary name, then
 * renamed, so a reader never sees half a file), and every `GATEHOUSE_SOAK_GC_MS` it runs a full
 * garbage collection and keeps the heap after it: that is the live heap, the one number in
 * which a leak cannot hide (under a moderate load V8 runs full collections only every few minutes,
 * and the heap read at a random moment is mostly garbage). The cost is a pause per collection
 * (tens of milliseconds on an idle machine, some hundreds when the machine is busy: it shows in the
 * latency maximum, hardly in p99) and one small file write per interval. `gc` is taken from a
 * separate V8 context: the process's own global scope gets no `gc`. Every timer is unref'd, so the
 * probe never keeps a process alive.
 */
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const dir = process.env['GATEHOUSE_SOAK_PROBE_DIR'];
if (dir !== undefined && dir !== '') {
  const every = Number(process.env['GATEHOUSE_SOAK_PROBE_MS'] ?? 10_000);
  startProbe(dir, every, Number(process.env['GATEHOUSE_SOAK_GC_MS'] ?? every));
}

/**
 * @param {string} dir
 * @param {number} intervalMs
 * @param {number} gcIntervalMs
 */
function startProbe(dir, intervalMs, gcIntervalMs) {
  setFlagsFromString('--expose-gc');
  const gc = /** @type {() => void} */ (runInNewContext('gc'));
  const file = path.join(dir, `${String(process.pid)}.json`);
  const temporary = `${file}.tmp`;
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();

  /** The last full collection: when, the heap after it, its pause. */
  let collected = { at: 0, heapAfterGcBytes: Number.NaN, gcMs: Number.NaN };
  const collect = () => {
    const started = performance.now();
    gc();
    collected = {
      at: Date.now(),
      heapAfterGcBytes: getHeapStatistics().used_heap_size,
      gcMs: performance.now() - started,
    };
  };

  const write = () => {
    const heap = getHeapStatistics();
    const memory = process.memoryUsage();
    const sample = {
      pid: process.pid,
      at: Date.now(),
      heapUsedBytes: heap.used_heap_size,
      heapTotalBytes: heap.total_heap_size,
      externalBytes: memory.external,
      arrayBuffersBytes: memory.arrayBuffers,
      gcAt: collected.at,
      heapAfterGcBytes: collected.heapAfterGcBytes,
      gcMs: collected.gcMs,
      // Nanoseconds to milliseconds; an empty histogram (no tick yet) reports no lag.
      lagP99Ms: lag.count === 0 ? 0 : lag.percentile(99) / 1e6,
      lagMaxMs: lag.count === 0 ? 0 : lag.max / 1e6,
    };
    lag.reset();
    try {
      writeFileSync(temporary, JSON.stringify(sample));
      renameSync(temporary, file);
    } catch {
      // The soak's directory is gone (the run ended): nothing left to report to.
    }
  };
  setInterval(collect, gcIntervalMs).unref();
  setInterval(write, intervalMs).unref();
}

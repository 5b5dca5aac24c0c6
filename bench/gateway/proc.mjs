/**
 * Resource use of a process and all its descendants, read from Linux /proc: resident set size and
 * CPU time. The contenders are not all Node processes (nginx is a master and a worker), so the
 * benchmark measures every one of them from the outside, the same way.
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on every Linux architecture in use). */
const TICKS_PER_SEC = 100;

/**
 * The process and its descendants, from /proc/<pid>/task/<tid>/children (direct children of each
 * thread). Processes that exit meanwhile are skipped.
 * @param {number} pid
 * @returns {number[]}
 */
export function processTree(pid) {
  /** @type {number[]} */
  const found = [];
  const pending = [pid];
  while (pending.length > 0) {
    const next = /** @type {number} */ (pending.pop());
    found.push(next);
    let tasks;
    try {
      tasks = readFileSync(`/proc/${String(next)}/task/${String(next)}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const child of tasks.split(' ')) {
      const id = Number(child);
      if (child !== '' && Number.isSafeInteger(id)) pending.push(id);
    }
  }
  return found;
}

/**
 * Fields of /proc/<pid>/status in kibibytes (VmRSS, VmHWM), or undefined when the process is gone.
 * @param {number} pid
 * @returns {{ rssBytes: number, peakRssBytes: number } | undefined}
 */
function memoryOf(pid) {
  let status;
  try {
    status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (/** @type {string} */ name) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status);
    return match === null ? 0 : Number(match[1]) * 1024;
  };
  return { rssBytes: field('VmRSS'), peakRssBytes: field('VmHWM') };
}

/**
 * User + system CPU seconds of a process (all its threads), or 0 when it is gone.
 * @param {number} pid
 * @returns {number}
 */
function cpuSecOf(pid) {
  let stat;
  try {
    stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  } catch {
    return 0;
  }
  // The command name (field 2) may contain spaces and parentheses: count fields after its last `)`.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 (utime) and 15 (stime) of proc(5), i.e. indexes 11 and 12 after the name.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SEC;
}

/**
 * @typedef {object} TreeUsage
 * @property {number} processes
 * @property {number} rssBytes Current RSS summed over the tree.
 * @property {number} peakRssBytes Peak RSS (VmHWM) summed over the tree: an upper bound of the
 *   tree's peak, exact for a single process.
 * @property {number} cpuSec User + system CPU time of the processes alive now.
 */

/**
 * @param {number | readonly number[]} pids One process tree, or several summed (a contender made of
 *   two programs: nginx and the gateway it asks).
 * @returns {TreeUsage}
 */
export function treeUsage(pids) {
  let rssBytes = 0;
  let peakRssBytes = 0;
  let cpuSec = 0;
  let processes = 0;
  const roots = typeof pids === 'number' ? [pids] : pids;
  for (const id of new Set(roots.flatMap((root) => processTree(root)))) {
    const memory = memoryOf(id);
    if (memory === undefined) continue;
    processes++;
    rssBytes += memory.rssBytes;
    peakRssBytes += memory.peakRssBytes;
    cpuSec += cpuSecOf(id);
  }
  return { processes, rssBytes, peakRssBytes, cpuSec };
}

/**
 * Samples the summed RSS of a process tree (or of several) every `intervalMs` and keeps the largest
 * sum seen: the peak of the whole tree at one moment (VmHWM of each process peaks at different moments).
 * @param {number | readonly number[]} pids
 * @param {number} [intervalMs]
 * @returns {{ stop(): number, peak(): number }} `stop` ends sampling and returns the peak in bytes.
 */
export function sampleTreeRss(pids, intervalMs = 100) {
  let peak = treeUsage(pids).rssBytes;
  const timer = setInterval(() => {
    peak = Math.max(peak, treeUsage(pids).rssBytes);
  }, intervalMs);
  timer.unref();
  return {
    peak: () => peak,
    stop: () => {
      clearInterval(timer);
      peak = Math.max(peak, treeUsage(pids).rssBytes);
      return peak;
    },
  };
}

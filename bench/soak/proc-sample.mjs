/**
 * What the soak reads about each process of the stack from the outside (Linux /proc): resident
 * memory, CPU time, open file descriptors by kind, and the probe file the process writes itself
 * (`probe.mjs`: V8 heap, full collections, event-loop delay).
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { processTree } from '../gateway/proc.mjs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on every Linux architecture in use). */
const TICKS_PER_SEC = 100;

/**
 * The component a process of `gatehouse up` is, from its command line: `up` itself, the
 * `gatehouse <component>` children, and the demo services (`examples/<name>/dist/main.js`).
 * @param {number} pid
 * @returns {string | undefined} undefined when the process is gone.
 */
export function roleOf(pid) {
  let cmdline;
  try {
    cmdline = readFileSync(`/proc/${String(pid)}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
  const argv = cmdline.split('\0').filter((arg) => arg !== '');
  const script = argv[1] ?? '';
  if (script.endsWith('gatehouse.js')) return argv[2] ?? 'gatehouse';
  const service = /examples\/([^/]+)\/dist\/main\.js$/.exec(script);
  if (service !== null) return service[1];
  return path.basename(script || argv[0] || String(pid));
}

/**
 * The processes of the stack: `gatehouse up` and its descendants, each with its role.
 * @param {number} upPid
 * @returns {{ pid: number, role: string }[]}
 */
export function stackProcesses(upPid) {
  /** @type {{ pid: number, role: string }[]} */
  const found = [];
  for (const pid of processTree(upPid)) {
    const role = roleOf(pid);
    if (role !== undefined) found.push({ pid, role });
  }
  return found;
}

/**
 * @typedef {object} FdCounts
 * @property {number} total
 * @property {number} sockets
 * @property {number} files Regular files and directories (SQLite database, WAL, logs).
 * @property {number} pipes
 * @property {number} other anon_inode (epoll, eventfd, timerfd), devices.
 */

/**
 * Open file descriptors of a process, by kind (readlink of each /proc/<pid>/fd entry).
 * @param {number} pid
 * @returns {FdCounts | undefined}
 */
function fdsOf(pid) {
  const dir = `/proc/${String(pid)}/fd`;
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return undefined;
  }
  const counts = { total: 0, sockets: 0, files: 0, pipes: 0, other: 0 };
  for (const entry of entries) {
    let target;
    try {
      target = readlinkSync(`${dir}/${entry}`);
    } catch {
      continue; // closed between the listing and the read
    }
    counts.total++;
    if (target.startsWith('socket:')) counts.sockets++;
    else if (target.startsWith('pipe:')) counts.pipes++;
    else if (target.startsWith('/')) counts.files++;
    else counts.other++;
  }
  return counts;
}

/**
 * Resident memory, and its split: anonymous (heaps, malloc arenas), file-backed (code, mapped
 * files) and shared (SQLite's WAL index).
 * @param {number} pid
 * @returns {{ rssBytes: number, rssAnonBytes: number, rssFileBytes: number, rssShmemBytes: number, threads: number } | undefined}
 */
function statusOf(pid) {
  let status;
  try {
    status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (/** @type {string} */ name) =>
    Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1]);
  return {
    rssBytes: field('VmRSS') * 1024,
    rssAnonBytes: field('RssAnon') * 1024,
    rssFileBytes: field('RssFile') * 1024,
    rssShmemBytes: field('RssShmem') * 1024,
    threads: field('Threads'),
  };
}

/**
 * User + system CPU seconds of a process (all its threads).
 * @param {number} pid
 * @returns {number}
 */
function cpuSecOf(pid) {
  let stat;
  try {
    stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  } catch {
    return Number.NaN;
  }
  // The command name (field 2) may contain spaces and parentheses: count fields after its last `)`.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 (utime) and 15 (stime) of proc(5), i.e. indexes 11 and 12 after the name.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SEC;
}

/**
 * @typedef {object} ProbeSample What `probe.mjs` last wrote (see there).
 * @property {number} at Epoch ms.
 * @property {number} heapUsedBytes At the time of writing (garbage included).
 * @property {number} heapTotalBytes
 * @property {number} gcAt Epoch ms of the last full collection of the probe (0: none yet).
 * @property {number} heapAfterGcBytes The live heap: the heap after that collection.
 * @property {number} externalBytes
 * @property {number} arrayBuffersBytes
 * @property {number} gcMs Pause of that collection.
 * @property {number} lagP99Ms
 * @property {number} lagMaxMs
 */

/**
 * @param {string} probeDir
 * @param {number} pid
 * @returns {ProbeSample | undefined}
 */
function probeOf(probeDir, pid) {
  try {
    return JSON.parse(readFileSync(path.join(probeDir, `${String(pid)}.json`), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * @typedef {object} ProcessReading
 * @property {number} pid
 * @property {string} role
 * @property {boolean} alive
 * @property {number} rssBytes
 * @property {number} rssAnonBytes
 * @property {number} rssFileBytes
 * @property {number} rssShmemBytes
 * @property {number} threads
 * @property {number} cpuSec Cumulative user + system CPU seconds.
 * @property {FdCounts | undefined} fds
 * @property {ProbeSample | undefined} probe
 */

/**
 * One reading of one process.
 * @param {{ pid: number, role: string }} proc
 * @param {string} probeDir
 * @returns {ProcessReading}
 */
export function readProcess(proc, probeDir) {
  const status = statusOf(proc.pid);
  return {
    pid: proc.pid,
    role: proc.role,
    alive: status !== undefined,
    rssBytes: status?.rssBytes ?? Number.NaN,
    rssAnonBytes: status?.rssAnonBytes ?? Number.NaN,
    rssFileBytes: status?.rssFileBytes ?? Number.NaN,
    rssShmemBytes: status?.rssShmemBytes ?? Number.NaN,
    threads: status?.threads ?? Number.NaN,
    cpuSec: cpuSecOf(proc.pid),
    fds: fdsOf(proc.pid),
    probe: probeOf(probeDir, proc.pid),
  };
}

/**
 * Busy and total CPU time of the whole machine (the `cpu` line of /proc/stat), in seconds: the
 * share of other work on the machine is its busy time minus the stack's and the load generator's.
 * @returns {{ busySec: number, totalSec: number }}
 */
export function machineCpu() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already counted in user).
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = ticks;
  const busy = user + nice + system + irq + softirq + steal;
  return { busySec: busy / TICKS_PER_SEC, totalSec: (busy + idle + iowait) / TICKS_PER_SEC };
}

/**
 * The soak's tables: per process (growth of RSS, heap and descriptors), the timeline minute by
 * minute, the requests per operation, and the checks; as plain text on stdout and as Markdown for
 * docs/soak.md.
 */
import { median } from '../lib/harness.mjs';
import { fmt, machineLine, markdownTable, textTable } from '../lib/report.mjs';
import { MIB } from './verdict.mjs';

/** Short names for the timeline's RSS column, in the order `gatehouse up` starts the processes. */
const SHORT = /** @type {Record<string, string>} */ ({
  up: 'up',
  'auth-server': 'auth',
  accounts: 'acc',
  orders: 'ord',
  gateway: 'gw',
  bff: 'bff',
});

/**
 * @param {number} bytes
 * @param {number} [decimals]
 */
const mb = (bytes, decimals = 1) => fmt(bytes / MIB, decimals);

/**
 * @param {number} value
 * @param {number} [decimals]
 */
const signed = (value, decimals = 1) =>
  Number.isFinite(value) ? `${value >= 0 ? '+' : ''}${fmt(value, decimals)}` : 'n/a';

/**
 * @param {any} result
 * @returns {{ columns: import('../lib/report.mjs').Column[], rows: string[][] }}
 */
function processTable(result) {
  const roles = Object.keys(result.trends);
  const rows = roles.map((role) => {
    const { rss, heap, fds, sockets } = result.trends[role];
    const values = result.samples
      .filter(
        (/** @type {any} */ s) => s.t >= result.parameters.plan.warmupSec && s.processes[role] !== undefined,
      )
      .map((/** @type {any} */ s) => s.processes[role]);
    const lag = median(values.map((/** @type {any} */ p) => p.lagP99Ms).filter(Number.isFinite));
    const lagMax = Math.max(...values.map((/** @type {any} */ p) => p.lagMaxMs).filter(Number.isFinite));
    const cpu =
      values.reduce((/** @type {number} */ s, /** @type {any} */ p) => s + p.cpuPct, 0) / values.length;
    const checks = result.checks.filter((/** @type {any} */ c) => c.subject === role);
    return [
      role,
      `${mb(rss.baseline)} → ${mb(rss.final)}`,
      signed(rss.growth / MIB),
      signed(rss.slopePerMin / MIB, 2),
      `${mb(heap.baseline)} → ${mb(heap.final)}`,
      signed(heap.growth / MIB),
      signed(heap.slopePerMin / MIB, 2),
      `${fmt(sockets.baseline)} → ${fmt(sockets.final)}`,
      `${fmt(fds.baseline)} → ${fmt(fds.final)}`,
      `${fmt(result.idle.before[role]?.fds ?? Number.NaN)} → ${fmt(result.idle.after[role]?.fds ?? Number.NaN)}`,
      `${fmt(lag, 1)} / ${fmt(lagMax, 0)}`,
      fmt(cpu, 1),
      checks.every((/** @type {any} */ c) => c.pass) ? 'PASS' : 'FAIL',
    ];
  });
  return {
    columns: [
      { title: 'Process' },
      { title: 'RSS MiB', align: 'right' },
      { title: 'RSS Δ', align: 'right' },
      { title: 'RSS /min', align: 'right' },
      { title: 'Heap MiB', align: 'right' },
      { title: 'Heap Δ', align: 'right' },
      { title: 'Heap /min', align: 'right' },
      { title: 'Sockets', align: 'right' },
      { title: 'Other fds', align: 'right' },
      { title: 'Idle fds', align: 'right' },
      { title: 'Lag p99/max ms', align: 'right' },
      { title: 'CPU %', align: 'right' },
      { title: 'Verdict' },
    ],
    rows,
  };
}

/**
 * One row a minute (every sample for runs up to two minutes), the load summed over the row's windows.
 * @param {any} result
 */
function timelineTable(result) {
  const samples = result.samples;
  const step =
    result.parameters.durationSec > 120 ? Math.max(1, Math.round(60 / result.parameters.sampleSec)) : 1;
  const roles = Object.keys(result.trends);
  /** @type {string[][]} */
  const rows = [];
  // The t=0 sample (before any load) alone, then groups of `step` samples.
  /** @type {{ from: number, group: any[] }[]} */
  const groups = samples.length === 0 ? [] : [{ from: 0, group: [samples[0]] }];
  for (let i = 1; i < samples.length; i += step)
    groups.push({ from: samples[i - 1].t, group: samples.slice(i, i + step) });
  for (const { from, group } of groups) {
    const end = group.at(-1);
    const requests = group.reduce((/** @type {number} */ s, /** @type {any} */ g) => s + g.load.requests, 0);
    const span = end.t - from;
    rows.push([
      `${fmt(end.t)}`,
      span > 0 ? fmt(requests / span) : '',
      fmt(group.reduce((/** @type {number} */ s, /** @type {any} */ g) => s + g.load.errors, 0)),
      fmt(group.reduce((/** @type {number} */ s, /** @type {any} */ g) => s + g.load.unexpected, 0)),
      fmt(median(group.map((/** @type {any} */ g) => g.load.p50Ms).filter(Number.isFinite)), 1),
      fmt(Math.max(...group.map((/** @type {any} */ g) => g.load.p99Ms).filter(Number.isFinite)), 1),
      roles.map((role) => fmt((end.processes[role]?.rssBytes ?? Number.NaN) / MIB)).join(' '),
      roles.map((role) => fmt(end.processes[role]?.fds ?? Number.NaN)).join(' '),
      fmt(median(group.map((/** @type {any} */ g) => g.stackCpuPct).filter(Number.isFinite))),
      fmt(median(group.map((/** @type {any} */ g) => g.machine.busyPct).filter(Number.isFinite))),
      fmt(median(group.map((/** @type {any} */ g) => g.machine.otherPct).filter(Number.isFinite))),
    ]);
  }
  const names = roles.map((role) => SHORT[role] ?? role).join(' ');
  return {
    columns: [
      { title: 't s', align: 'right' },
      { title: 'req/s', align: 'right' },
      { title: 'errors', align: 'right' },
      { title: 'unexp.', align: 'right' },
      { title: 'p50 ms', align: 'right' },
      { title: 'p99 ms', align: 'right' },
      { title: `RSS MiB (${names})`, align: 'right' },
      { title: `fds (${names})`, align: 'right' },
      { title: 'stack CPU %', align: 'right' },
      { title: 'machine busy %', align: 'right' },
      { title: 'other work %', align: 'right' },
    ],
    rows,
  };
}

/** @param {any} result */
function operationTable(result) {
  const rows = [...result.operations]
    .sort((a, b) => b.count - a.count)
    .map((/** @type {any} */ op) => [
      op.label,
      fmt(op.count),
      Object.entries(op.statuses)
        .map(([status, n]) => `${status}×${fmt(/** @type {number} */ (n))}`)
        .join(' '),
      fmt(op.errors),
      fmt(op.unexpected),
      fmt(op.p50Ms, 1),
      fmt(op.p99Ms, 1),
    ]);
  return {
    columns: [
      { title: 'Request' },
      { title: 'count', align: 'right' },
      { title: 'statuses' },
      { title: 'errors', align: 'right' },
      { title: 'unexp.', align: 'right' },
      { title: 'p50 ms', align: 'right' },
      { title: 'p99 ms', align: 'right' },
    ],
    rows,
  };
}

/** @param {any} result */
function checkTable(result) {
  return {
    columns: [{ title: 'Check' }, { title: 'Subject' }, { title: 'Result' }, { title: 'Measured' }],
    rows: result.checks.map((/** @type {any} */ c) => [c.id, c.subject, c.pass ? 'PASS' : 'FAIL', c.detail]),
  };
}

/** @param {any} result */
function headline(result) {
  const { load, requests, parameters } = result;
  return (
    `${fmt(requests.total)} requests in ${fmt(load.elapsedSec)} s (${fmt(load.requestsPerSec)}/s; ` +
    `${fmt(load.started)} operations at ${fmt(parameters.rate)}/s asked, ${fmt(load.skipped)} skipped), ` +
    `${fmt(requests.errors)} errors, ${fmt(requests.unexpected)} unexpected answers; ` +
    `gateway 5xx by its own metrics ${fmt(result.server.gateway5xx)}, auth server ${fmt(result.server.auth5xx)}; ` +
    `detections ${fmt(result.server.detections)}, bans ${fmt(result.server.bans)}`
  );
}

/**
 * How busy the machine was with other work (neither the stack nor the load generator).
 * @param {any} result
 */
function machineNote(result) {
  const windows = result.samples.filter((/** @type {any} */ s) => Number.isFinite(s.machine.otherPct));
  const other = median(windows.map((/** @type {any} */ s) => s.machine.otherPct));
  const saturated = windows.filter((/** @type {any} */ s) => s.machine.busyPct >= 95).length;
  return (
    `Other work on the machine: median ${fmt(other)} % of its CPU time; machine busy 95 % or more in ` +
    `${fmt(saturated)} of ${fmt(windows.length)} windows` +
    (other > 20 || saturated > windows.length / 10
      ? ': the stack competed for the CPU, its latency and event-loop delay are higher than on a quiet machine.'
      : '.')
  );
}

/**
 * The tables on stdout.
 * @param {any} result
 */
export function printReport(result) {
  const { plan } = result.parameters;
  const out = [
    '',
    `Soak of the demo stack (gatehouse up): ${result.pass ? 'PASS' : 'FAIL'}${result.aborted ? ' (aborted)' : ''}`,
    machineLine(result.machine),
    headline(result),
    machineNote(result),
    `Warm-up 0-${fmt(plan.warmupSec)} s; baseline ${fmt(plan.baseline[0])}-${fmt(plan.baseline[1])} s; final ${fmt(plan.final[0])}-${fmt(plan.final[1])} s. ` +
      "RSS and fds: medians of the samples in each span; heap: the live heap (after the probe's full collections); slopes over every point after the warm-up.",
    '',
    ...[processTable, timelineTable, operationTable, checkTable].flatMap((table) => {
      const { columns, rows } = table(result);
      return [textTable(columns, rows), ''];
    }),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

/**
 * The generated section of docs/soak.md.
 * @param {any} result
 * @returns {string}
 */
export function markdownReport(result) {
  const { plan } = result.parameters;
  const load = (/** @type {number[]} */ l) => l.map((v) => v.toFixed(2)).join(', ');
  return [
    '## Last full run',
    '',
    `Generated by \`${result.command}\` on ${result.date.slice(0, 10)}: **${result.pass ? 'PASS' : 'FAIL'}**; ` +
      `every sample in \`${result.resultFile}\`.`,
    '',
    `Machine: ${machineLine(result.machine)}. Load average ${load(result.loadAverageBefore)} before, ` +
      `${load(result.loadAverageAfter)} after. ${machineNote(result)}`,
    '',
    `Build of commit \`${result.revision.commit.slice(0, 7)}\` with ${fmt(result.revision.changedFiles)} ` +
      'files changed in the working tree.',
    '',
    `${headline(result)}.`,
    '',
    `Warm-up 0-${fmt(plan.warmupSec)} s; baseline ${fmt(plan.baseline[0])}-${fmt(plan.baseline[1])} s; ` +
      `final ${fmt(plan.final[0])}-${fmt(plan.final[1])} s. Timeline: one row a minute; RSS and fds at ` +
      'the end of the minute, process by process; requests, errors and latency over the minute.',
    '',
    ...[processTable, checkTable, timelineTable, operationTable].flatMap((table) => {
      const { columns, rows } = table(result);
      return [markdownTable(columns, rows), ''];
    }),
  ].join('\n');
}

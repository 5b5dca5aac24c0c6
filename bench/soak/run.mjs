/**
 * The soak (issue 7): the demo stack (`gatehouse up`, embedded stores) under a mixed load at a
 * moderate fixed rate for ten minutes, every process sampled every 10 s (RSS, V8 heap, open file
 * descriptors, event-loop delay, CPU) with the load's requests, errors and latency per window; the
 * verdict is whether memory and handles stop growing once warm, and whether no request failed.
 * Exit code 0 on pass, 1 on fail. Never run by CI: see bench/README.md and docs/soak.md.
 *
 *   node bench/soak/run.mjs [--duration 600] [--rate 50] [--sample 10] [--warmup 120] [--seed 1] [--keep]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  machineInfo,
  machineLine,
  REPO_ROOT,
  today,
  updateMarkedSection,
  writeJson,
} from '../lib/report.mjs';
import { createHttpClient } from './http-client.mjs';
import { runLoad, seededRandom } from './load.mjs';
import { machineCpu, readProcess, stackProcesses } from './proc-sample.mjs';
import { createRecorder } from './recorder.mjs';
import { createScenarios } from './scenarios.mjs';
import { missingBuild, startStack } from './stack.mjs';
import { printReport, markdownReport } from './summary.mjs';
import { BOUNDS, judge, planSpans } from './verdict.mjs';

/** @param {string} message */
const progress = (message) => void process.stderr.write(`${message}\n`);

const USAGE = `Usage: node bench/soak/run.mjs [options]

  --duration SEC   length of the load (default 600; 60 for a quick check)
  --rate N         operations started per second (default 50; about 1.03 requests each)
  --sample SEC     sampling interval (default 10; 5 for runs under 5 minutes)
  --warmup SEC     samples before this are not judged (default 120, or a fifth of a shorter run)
  --seed N         seed of the operation mix (default 1)
  --keep           keep the temporary directory (data dir, logs); it is always kept on a failure
  --help`;

/** Loopback addresses the refused calls come from (scenarios.mjs: never ban 127.0.0.1). */
const POOL = Array.from({ length: 64 }, (_, i) => `127.0.0.${String(10 + i)}`);

/**
 * @param {string | undefined} raw
 * @param {string} name
 * @param {number} fallback
 */
function positive(raw, name, fallback) {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`--${name} must be a positive number, got ${raw}`);
  return value;
}

/**
 * The commit the build comes from, and how many files of the working tree differ from it (the
 * stack runs the build of the working tree).
 */
function revision() {
  const git = (/** @type {string[]} */ args) =>
    spawnSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  const changed = git(['status', '--porcelain']);
  return {
    commit: git(['rev-parse', 'HEAD']),
    changedFiles: changed === '' ? 0 : changed.split('\n').length,
  };
}

/**
 * Sums the samples of a Prometheus counter whose labels match.
 * @param {string} text
 * @param {string} name
 * @param {RegExp} [labels]
 */
function counterSum(text, name, labels) {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels !== undefined && !labels.test(line)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function main() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      rate: { type: 'string' },
      sample: { type: 'string' },
      warmup: { type: 'string' },
      seed: { type: 'string' },
      keep: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const durationSec = positive(values.duration, 'duration', 600);
  const rate = positive(values.rate, 'rate', 50);
  const sampleSec = positive(values.sample, 'sample', durationSec < 300 ? 5 : 10);
  const seed = positive(values.seed, 'seed', 1);
  const plan = planSpans(
    durationSec,
    values.warmup === undefined ? undefined : positive(values.warmup, 'warmup', 120),
  );
  if (plan.final[0] < plan.baseline[1])
    throw new Error('--warmup leaves no room for a baseline and a final span');

  const missing = missingBuild();
  if (missing.length > 0) throw new Error(`not built: ${missing.join(', ')} (run npm run build)`);

  const workDir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-soak-'));
  const dataDir = path.join(workDir, 'data');
  const probeDir = path.join(workDir, 'probe');
  const logFile = path.join(workDir, 'up.log');
  mkdirSync(probeDir);
  const machine = machineInfo();
  const loadAverageBefore = os.loadavg();
  progress(
    `soak: ${machineLine(machine)}; load average ${loadAverageBefore.map((l) => l.toFixed(2)).join(' ')}`,
  );
  progress(`soak: ${String(durationSec)} s at ${String(rate)} operations/s; work dir ${workDir}`);

  // A full collection in every process every 30 s (every sample in short runs): see probe.mjs.
  const gcSec = Math.max(sampleSec, Math.min(30, durationSec / 12));
  const stack = await startStack({
    dataDir,
    probeDir,
    probeMs: sampleSec * 1000,
    gcMs: gcSec * 1000,
    logFile,
  });
  progress(`soak: gatehouse up ready on ports ${String(stack.portBase)}+ (pid ${String(stack.pid)})`);
  const processes = stackProcesses(stack.pid);
  progress(`soak: processes ${processes.map((p) => `${p.role} ${String(p.pid)}`).join(', ')}`);
  let upExited = false;
  void stack.exited.then(() => (upExited = true));

  const http = createHttpClient({ sources: POOL });
  let loadStart = performance.now();
  const now = () => (performance.now() - loadStart) / 1000;
  const recorder = createRecorder(now);
  const random = seededRandom(seed);
  const scenarios = createScenarios({
    http,
    recorder,
    demo: stack.demo,
    gatewayClient: stack.gatewayClient,
    pool: POOL,
    random,
  });
  progress('soak: setup (tokens, cli logins, BFF logins, accounts and orders)');
  await scenarios.setup();
  const setupTotals = recorder.totals();
  if (setupTotals.errors > 0 || setupTotals.unexpected > 0)
    throw new Error(
      `setup: unexpected answers ${JSON.stringify([...setupTotals.errorExamples, ...setupTotals.unexpectedExamples])}`,
    );

  /**
   * The idle stack, once keep-alive connections have timed out: the load generator closes its own
   * after 3 s, Node servers after 5 s, but the services and the auth server (fastify) keep theirs
   * 72 s and the gateway's connection pools follow that `Keep-Alive` hint. Polled every second:
   * done after `minMs` when `done` says so, or, without `done`, once the descriptors have not
   * changed for 3 s; at most `maxMs`.
   * @param {{ minMs: number, maxMs: number, done?: (fds: Record<string, number>) => boolean }} options
   * @returns {Promise<Record<string, { fds: number, rssBytes: number, waitedSec: number }>>}
   */
  const settle = async ({ minMs, maxMs, done }) => {
    const started = Date.now();
    let last = '';
    let stableSince = started;
    for (;;) {
      await sleep(1000);
      const readings = processes.map((p) => readProcess(p, probeDir));
      const fds = Object.fromEntries(readings.map((r) => [r.role, r.fds?.total ?? Number.NaN]));
      const key = JSON.stringify(fds);
      if (key !== last) {
        last = key;
        stableSince = Date.now();
      }
      const waited = Date.now() - started;
      const settled = done === undefined ? Date.now() - stableSince >= 3000 : done(fds);
      if ((waited >= minMs && settled) || waited >= maxMs) {
        return Object.fromEntries(
          readings.map((r) => [
            r.role,
            { fds: fds[r.role] ?? Number.NaN, rssBytes: r.rssBytes, waitedSec: waited / 1000 },
          ]),
        );
      }
    }
  };

  /** @type {any[]} */
  const samples = [];
  /** @type {Set<string>} */
  const exitedProcesses = new Set();
  /** @type {Map<number, number>} */
  const lastCpu = new Map();
  let lastMachine = machineCpu();
  let lastGenerator = process.cpuUsage();
  let lastSampleAt = 0;

  const scrape = async (/** @type {string} */ label, /** @type {string} */ url) => {
    const answer = await http.send({ url });
    recorder.record(label, answer, answer.status === 200, '200');
    return answer.status === 200 ? answer.text : '';
  };

  const sample = async () => {
    const t = now();
    const dt = t - lastSampleAt;
    lastSampleAt = t;
    const machineNow = machineCpu();
    const generator = process.cpuUsage();
    /** @type {Record<string, any>} */
    const byRole = {};
    let stackCpuSec = 0;
    for (const proc of processes) {
      const reading = readProcess(proc, probeDir);
      if (!reading.alive) {
        exitedProcesses.add(proc.role);
        continue;
      }
      const cpuDelta = reading.cpuSec - (lastCpu.get(proc.pid) ?? reading.cpuSec);
      lastCpu.set(proc.pid, reading.cpuSec);
      stackCpuSec += cpuDelta;
      byRole[proc.role] = {
        pid: proc.pid,
        rssBytes: reading.rssBytes,
        rssAnonBytes: reading.rssAnonBytes,
        rssFileBytes: reading.rssFileBytes,
        rssShmemBytes: reading.rssShmemBytes,
        threads: reading.threads,
        fds: reading.fds?.total ?? Number.NaN,
        fdSockets: reading.fds?.sockets ?? Number.NaN,
        fdNonSockets: reading.fds === undefined ? Number.NaN : reading.fds.total - reading.fds.sockets,
        fdFiles: reading.fds?.files ?? Number.NaN,
        fdPipes: reading.fds?.pipes ?? Number.NaN,
        fdOther: reading.fds?.other ?? Number.NaN,
        cpuPct: dt > 0 ? (cpuDelta / dt) * 100 : Number.NaN,
        heapUsedBytes: reading.probe?.heapUsedBytes ?? Number.NaN,
        heapAfterGcBytes: reading.probe?.heapAfterGcBytes ?? Number.NaN,
        gcAt: reading.probe?.gcAt ?? 0,
        heapTotalBytes: reading.probe?.heapTotalBytes ?? Number.NaN,
        externalBytes: reading.probe?.externalBytes ?? Number.NaN,
        arrayBuffersBytes: reading.probe?.arrayBuffersBytes ?? Number.NaN,
        gcMs: reading.probe?.gcMs ?? Number.NaN,
        lagP99Ms: reading.probe?.lagP99Ms ?? Number.NaN,
        lagMaxMs: reading.probe?.lagMaxMs ?? Number.NaN,
        probeAgeSec: reading.probe === undefined ? Number.NaN : (Date.now() - reading.probe.at) / 1000,
      };
    }
    // What a Prometheus server would scrape: the gateway's and the auth server's /metrics.
    const gatewayMetrics = await scrape('admin: GET /metrics (gateway)', `${stack.demo.admin}/metrics`);
    const authMetrics = await scrape(
      'admin: GET /metrics/auth-server',
      `${stack.demo.admin}/metrics/auth-server`,
    );
    const busy = machineNow.busySec - lastMachine.busySec;
    const total = machineNow.totalSec - lastMachine.totalSec;
    const generatorSec =
      (generator.user + generator.system - lastGenerator.user - lastGenerator.system) / 1e6;
    lastMachine = machineNow;
    lastGenerator = generator;
    samples.push({
      t: Math.round(t * 10) / 10,
      load: recorder.takeWindow(),
      machine: {
        busyPct: total > 0 ? (busy / total) * 100 : Number.NaN,
        // Busy time that is neither the stack nor the load generator, as a share of the machine.
        otherPct: total > 0 ? (Math.max(0, busy - stackCpuSec - generatorSec) / total) * 100 : Number.NaN,
        loadAverage1: os.loadavg()[0],
      },
      generatorCpuPct: dt > 0 ? (generatorSec / dt) * 100 : Number.NaN,
      stackCpuPct: dt > 0 ? (stackCpuSec / dt) * 100 : Number.NaN,
      processes: byRole,
      metrics: {
        gatewayRequests: counterSum(gatewayMetrics, 'gatehouse_requests_total'),
        gateway5xx: counterSum(gatewayMetrics, 'gatehouse_requests_total', /code="5\d\d"/),
        authRequests: counterSum(authMetrics, 'gatehouse_auth_requests_total'),
        auth5xx: counterSum(authMetrics, 'gatehouse_auth_requests_total', /(code|status)="5\d\d"/),
      },
    });
    const last = samples.at(-1);
    progress(
      `soak: t=${String(Math.round(t))}s ${String(last.load.requests)} req (${(last.load.requests / Math.max(dt, 1e-9)).toFixed(0)}/s) ` +
        `errors ${String(last.load.errors)} unexpected ${String(last.load.unexpected)} p99 ${last.load.p99Ms.toFixed(1)} ms; ` +
        Object.entries(byRole)
          .map(([role, p]) => `${role} ${(p.rssBytes / 2 ** 20).toFixed(0)}M/${String(p.fds)}fd`)
          .join(' '),
    );
  };

  progress('soak: waiting for the idle stack (keep-alive connections to time out)');
  const idleBefore = await settle({ minMs: 12_000, maxMs: 30_000 });
  progress(`soak: load for ${String(durationSec)} s (sampling every ${String(sampleSec)} s)`);
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  recorder.takeWindow(); // setup requests are not part of the first window
  loadStart = performance.now();
  const loadStartEpoch = Date.now();
  lastSampleAt = 0;
  await sample();
  let sampling = Promise.resolve();
  const timer = setInterval(() => {
    sampling = sampling.then(sample);
  }, sampleSec * 1000);
  const watchUp = stack.exited.then(() => abort.abort());
  const load = await runLoad({
    operations: scenarios.operations,
    rate,
    durationMs: durationSec * 1000,
    maxInFlight: 256,
    random,
    signal: abort.signal,
  });
  clearInterval(timer);
  await sampling;
  if (now() - lastSampleAt > sampleSec / 2 && !upExited) await sample();
  void watchUp;
  process.off('SIGINT', onSignal);

  progress('soak: waiting for the idle stack after the load');
  // Back to the descriptors of before the load (or fewer), or what is left after 90 s.
  const idleAfter = await settle({
    minMs: 3000,
    maxMs: 90_000,
    done: (fds) => Object.entries(fds).every(([role, n]) => n <= (idleBefore[role]?.fds ?? Number.NaN)),
  });

  // The server side's own view at the end: its 5xx, and what its abuse detectors did with the load.
  const adminGet = (/** @type {string} */ p) =>
    http.send({
      url: `${stack.demo.admin}${p}`,
      headers: { authorization: `Bearer ${stack.demo.adminToken}` },
    });
  const detections = await adminGet('/admin/gateway/detections');
  const bans = await adminGet('/admin/gateway/bans');
  const server = {
    gateway5xx: samples.at(-1)?.metrics.gateway5xx ?? Number.NaN,
    auth5xx: samples.at(-1)?.metrics.auth5xx ?? Number.NaN,
    detections:
      detections.status === 200 ? (JSON.parse(detections.text).detections?.length ?? Number.NaN) : Number.NaN,
    bans: bans.status === 200 ? (JSON.parse(bans.text).bans?.length ?? Number.NaN) : Number.NaN,
  };
  http.close();

  progress('soak: stopping the stack (SIGINT)');
  const stopExitCode = await stack.stop();
  const aborted = abort.signal.aborted && !upExited;
  const totals = recorder.totals();
  const elapsedSec = load.elapsedMs / 1000;

  const series = (/** @type {string} */ role, /** @type {string} */ key) =>
    samples
      .filter((s) => s.processes[role] !== undefined)
      .map((s) => ({ t: s.t, v: s.processes[role][key] }));
  // The live heap: one point per full collection of the probe, at the time it ran.
  const heapSeries = (/** @type {string} */ role) => {
    /** @type {Map<number, number>} */
    const byGc = new Map();
    for (const s of samples) {
      const p = s.processes[role];
      if (p !== undefined && p.gcAt > 0 && Number.isFinite(p.heapAfterGcBytes))
        byGc.set(p.gcAt, p.heapAfterGcBytes);
    }
    return [...byGc].map(([at, v]) => ({ t: (at - loadStartEpoch) / 1000, v }));
  };
  const roles = processes.map((p) => p.role);
  const verdict = judge(
    {
      processes: roles.map((role) => ({
        role,
        rss: series(role, 'rssBytes'),
        heap: heapSeries(role),
        idleFdsBefore: idleBefore[role]?.fds ?? Number.NaN,
        idleFdsAfter: idleAfter[role]?.fds ?? Number.NaN,
        fds: series(role, 'fdNonSockets'),
        sockets: series(role, 'fdSockets'),
      })),
      requests: totals.requests,
      errors: totals.errors,
      unexpected: totals.unexpected,
      scheduled: load.scheduled,
      started: load.started,
      failedOperations: load.failed,
      exitedProcesses: [...exitedProcesses],
      stopExitCode,
    },
    { ...plan, durationSec: Math.min(durationSec, elapsedSec) },
  );
  const pass = verdict.pass && !aborted;

  // A full run (10 minutes or more) is the recorded one; shorter runs are checks of the harness.
  const full = durationSec >= 600;
  const suffix = full ? '' : `-${String(durationSec)}s`;
  const file = path.join(REPO_ROOT, 'bench', 'results', `soak-${today()}${suffix}.json`);
  const command = `node bench/soak/run.mjs ${process.argv.slice(2).join(' ')}`.trim();
  const result = {
    benchmark: 'soak',
    date: new Date().toISOString(),
    command,
    resultFile: path.relative(REPO_ROOT, file),
    revision: revision(),
    machine,
    loadAverageBefore,
    loadAverageAfter: os.loadavg(),
    parameters: { durationSec, rate, sampleSec, gcSec, seed, pool: POOL.length, plan, bounds: BOUNDS },
    pass,
    aborted,
    checks: verdict.checks,
    trends: verdict.trends,
    load: { ...load, elapsedSec, requestsPerSec: totals.requests / elapsedSec },
    server,
    idle: { before: idleBefore, after: idleAfter },
    requests: {
      total: totals.requests,
      errors: totals.errors,
      unexpected: totals.unexpected,
      errorExamples: totals.errorExamples,
      unexpectedExamples: totals.unexpectedExamples,
    },
    operations: totals.labels,
    samples,
    workDir,
  };
  printReport(result);
  await writeJson(file, result);
  progress(`soak: wrote ${path.relative(REPO_ROOT, file)}`);
  if (full && !aborted) {
    await updateMarkedSection(path.join(REPO_ROOT, 'docs', 'soak.md'), 'soak', markdownReport(result));
    progress('soak: updated docs/soak.md');
  }
  if (pass && values.keep !== true) rmSync(workDir, { recursive: true, force: true });
  else progress(`soak: kept ${workDir} (data dir, up.log with every component's log, probe files)`);
  return pass ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    progress(`soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);

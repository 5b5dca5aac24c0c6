/**
 * Guard verification benchmark: @gatehouse/guard `createVerifier().verify` side by side with plain
 * jose `jwtVerify`, for ES256, EdDSA and RS256 RFC 9068 access tokens, plus the memory taken by a
 * full verification cache. Prints a table, writes bench/results/guard-<date>.json and the
 * "Guard verification" section of docs/performance.md. Never fails on a missed target.
 *
 * Run: `npm run bench:guard` at the repository root (builds first), or `node --expose-gc
 * bench/guard/run.mjs` after `npx tsc -b tsconfig.build.json`. Without --expose-gc the script starts
 * itself again with it. Environment: BENCH_ROUNDS (5), BENCH_SLICE_MS (1000), BENCH_WARMUP_MS (500),
 * BENCH_LATENCY_MS (250), BENCH_CACHE_ENTRIES (100000).
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createVerifier } from '@gatehouse/guard';
import { importJWK, jwtVerify } from 'jose';
import { envInt, median, runRounds, sampleLatency } from '../lib/harness.mjs';
import {
  REPO_ROOT,
  fmt,
  machineInfo,
  machineLine,
  markdownTable,
  requireExposedGc,
  textTable,
  today,
  updateMarkedSection,
  writeJson,
} from '../lib/report.mjs';
import {
  AUDIENCE,
  ISSUER,
  TYP,
  accessTokenClaims,
  createKey,
  signEs256Fast,
  signWithJose,
} from './fixtures.mjs';

const gc = requireExposedGc(fileURLToPath(import.meta.url));

/** @type {readonly import('./fixtures.mjs').BenchAlg[]} */
const ALGORITHMS = ['ES256', 'EdDSA', 'RS256'];

const PARAMETERS = {
  algorithms: ALGORITHMS,
  rounds: envInt('BENCH_ROUNDS', 5),
  sliceMs: envInt('BENCH_SLICE_MS', 1000),
  warmupMs: envInt('BENCH_WARMUP_MS', 500),
  latencyMs: envInt('BENCH_LATENCY_MS', 250),
  latencyMaxSamples: 50_000,
  cacheEntries: envInt('BENCH_CACHE_ENTRIES', 100_000),
  rsaModulusBits: 2048,
};

const ROUNDS = `${PARAMETERS.rounds} round${PARAMETERS.rounds === 1 ? '' : 's'}`;

/** From the issue: guard must not cost more than 10% over plain jose, and a cache hit must pay off. */
const TARGETS = { uncachedMinRatio: 0.9, cachedMinRatio: 20 };

const CONTENDERS = /** @type {const} */ ({
  jose: 'jose jwtVerify',
  guardUncached: 'guard (cache off)',
  guardCached: 'guard (cache hit)',
});

/** @param {string} message */
const progress = (message) => void process.stderr.write(`${message}\n`);

/**
 * Throughput and latency of the three contenders for one algorithm.
 * @param {import('./fixtures.mjs').BenchAlg} alg
 */
async function benchAlgorithm(alg) {
  const key = createKey(alg);
  const nowSec = Math.floor(Date.now() / 1000);
  const claims = accessTokenClaims(nowSec, 1);
  const token = await signWithJose(key, claims);

  // The fastest jose path: the key imported once, every option given up front.
  const joseKey = await importJWK(key.publicJwk, alg);
  const joseOptions = { issuer: ISSUER, audience: AUDIENCE, algorithms: [alg], typ: TYP };
  const base = { issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [key.publicJwk] }, algorithms: [alg] };
  const uncached = createVerifier({ ...base, cache: false });
  const cached = createVerifier(base);

  // Every contender must accept the token, or the numbers would measure a refusal path.
  const checks = await Promise.all([
    jwtVerify(token, joseKey, joseOptions).then((r) => r.payload.sub),
    uncached.verify(token).then((p) => p.sub),
    cached.verify(token).then((p) => p.sub),
  ]);
  if (checks.some((sub) => sub !== claims.sub)) throw new Error(`${alg}: a contender rejected the token`);

  /** @type {import('../lib/harness.mjs').Contender[]} */
  const contenders = [
    { id: 'jose', label: CONTENDERS.jose, run: () => jwtVerify(token, joseKey, joseOptions) },
    { id: 'guardUncached', label: CONTENDERS.guardUncached, run: () => uncached.verify(token) },
    { id: 'guardCached', label: CONTENDERS.guardCached, run: () => cached.verify(token) },
  ];
  const slices = await runRounds(contenders, {
    ...PARAMETERS,
    onSlice: (c, round, r) =>
      progress(
        `  ${alg} round ${round + 1}/${PARAMETERS.rounds} ${c.label.padEnd(18)} ${fmt(r.opsPerSec).padStart(12)} ops/s`,
      ),
  });

  /** @type {Record<string, unknown>} */
  const results = {};
  /** @type {Record<string, number>} */
  const medians = {};
  for (const c of contenders) {
    const rounds = slices.get(c.id) ?? [];
    const latency = await sampleLatency(c.run, {
      ms: PARAMETERS.latencyMs,
      maxSamples: PARAMETERS.latencyMaxSamples,
    });
    medians[c.id] = median(rounds.map((r) => r.opsPerSec));
    results[c.id] = {
      label: c.label,
      medianOpsPerSec: medians[c.id],
      medianUsPerOp: median(rounds.map((r) => r.usPerOp)),
      medianCpuSecPer10k: median(rounds.map((r) => r.cpuSecPer10k)),
      latency,
      rounds,
    };
  }
  const jose = medians['jose'] ?? Number.NaN;
  const ratios = {
    guardUncachedVsJose: (medians['guardUncached'] ?? Number.NaN) / jose,
    guardCachedVsJose: (medians['guardCached'] ?? Number.NaN) / jose,
  };
  const cacheStats = cached.stats();
  uncached.close();
  cached.close();
  return {
    alg,
    tokenBytes: token.length,
    contenders: results,
    ratios,
    cachedVerifier: {
      cacheHits: cacheStats.cacheHits,
      cacheMisses: cacheStats.cacheMisses,
      refused: cacheStats.refused,
    },
  };
}

/**
 * Heap and RSS taken by a verification cache holding `entries` results of distinct ES256 tokens.
 * @param {number} entries
 */
async function measureCacheMemory(entries) {
  const key = createKey('ES256');
  const options = {
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks: { keys: [key.publicJwk] },
    algorithms: ['ES256'],
  };
  const nowSec = Math.floor(Date.now() / 1000);

  // Compile the verify path first, so the baseline already holds the code and the lazily built state.
  const warm = createVerifier({ ...options, cache: { maxEntries: 1000 } });
  for (let i = 0; i < 1000; i++) await warm.verify(signEs256Fast(key, accessTokenClaims(nowSec, i)));
  warm.close();

  const verifier = createVerifier({ ...options, cache: { maxEntries: entries } });
  gc();
  gc();
  const before = process.memoryUsage();
  let peakHeap = before.heapUsed;
  let peakRss = before.rss;
  const started = process.hrtime.bigint();
  for (let i = 0; i < entries; i++) {
    // Each token is dropped once verified: only the cache keeps something.
    await verifier.verify(signEs256Fast(key, accessTokenClaims(nowSec, i)));
    if (i % 5000 === 4999) {
      const m = process.memoryUsage();
      peakHeap = Math.max(peakHeap, m.heapUsed);
      peakRss = Math.max(peakRss, m.rss);
      if (i % 20_000 === 19_999)
        progress(`  memory: ${fmt(i + 1)} / ${fmt(entries)} tokens signed and verified`);
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  gc();
  gc();
  const after = process.memoryUsage();
  const stats = verifier.stats();
  if (stats.cacheEntries !== entries)
    throw new Error(`cache holds ${stats.cacheEntries}, expected ${entries}`);
  verifier.close();

  const heapBytes = after.heapUsed - before.heapUsed;
  const rssBytes = after.rss - before.rss;
  return {
    entries: stats.cacheEntries,
    tokenAlg: 'ES256',
    fillSeconds: seconds,
    heapUsedBeforeBytes: before.heapUsed,
    heapUsedAfterBytes: after.heapUsed,
    rssBeforeBytes: before.rss,
    rssAfterBytes: after.rss,
    retainedHeapBytes: heapBytes,
    retainedHeapMiB: heapBytes / 2 ** 20,
    heapBytesPerEntry: heapBytes / entries,
    rssDeltaBytes: rssBytes,
    rssDeltaMiB: rssBytes / 2 ** 20,
    rssBytesPerEntry: rssBytes / entries,
    peakHeapUsedMiB: peakHeap / 2 ** 20,
    peakRssMiB: peakRss / 2 ** 20,
    processMaxRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

/**
 * @param {Awaited<ReturnType<typeof benchAlgorithm>>[]} algorithms
 */
function evaluateTargets(algorithms) {
  return algorithms.flatMap((a) => [
    {
      alg: a.alg,
      target: `guard (cache off) >= ${TARGETS.uncachedMinRatio}x jose`,
      ratio: a.ratios.guardUncachedVsJose,
      pass: a.ratios.guardUncachedVsJose >= TARGETS.uncachedMinRatio,
    },
    {
      alg: a.alg,
      target: `guard (cache hit) >= ${TARGETS.cachedMinRatio}x jose`,
      ratio: a.ratios.guardCachedVsJose,
      pass: a.ratios.guardCachedVsJose >= TARGETS.cachedMinRatio,
    },
  ]);
}

/** The command that reproduces this run, as the docs should show it. */
function reproduceCommand() {
  const event = process.env['npm_lifecycle_event'];
  const command =
    event === 'guard'
      ? 'npm run bench:guard'
      : event === 'bench'
        ? 'npm run bench'
        : 'node --expose-gc bench/guard/run.mjs';
  const overrides = Object.entries(process.env)
    .filter(([name, value]) => name.startsWith('BENCH_') && value !== undefined && value !== '')
    .map(([name, value]) => `${name}=${String(value)}`)
    .sort();
  return [...overrides, command].join(' ');
}

/** @type {import('../lib/report.mjs').Column[]} */
const THROUGHPUT_COLUMNS = [
  { title: 'Algorithm' },
  { title: 'Contender' },
  { title: 'ops/s (median)', align: 'right' },
  { title: 'µs/op', align: 'right' },
  { title: 'p50 µs', align: 'right' },
  { title: 'p90 µs', align: 'right' },
  { title: 'p99 µs', align: 'right' },
  { title: 'CPU s/10k', align: 'right' },
  { title: 'vs jose', align: 'right' },
];

/**
 * @param {Awaited<ReturnType<typeof benchAlgorithm>>[]} algorithms
 * @returns {string[][]}
 */
function throughputRows(algorithms) {
  return algorithms.flatMap((a) =>
    Object.entries(a.contenders).map(([id, raw]) => {
      const c =
        /** @type {{ label: string, medianOpsPerSec: number, medianUsPerOp: number, medianCpuSecPer10k: number, latency: { p50Us: number, p90Us: number, p99Us: number } }} */ (
          raw
        );
      const ratio =
        id === 'guardUncached'
          ? a.ratios.guardUncachedVsJose
          : id === 'guardCached'
            ? a.ratios.guardCachedVsJose
            : 1;
      return [
        a.alg,
        c.label,
        fmt(c.medianOpsPerSec),
        fmt(c.medianUsPerOp, 2),
        fmt(c.latency.p50Us, 2),
        fmt(c.latency.p90Us, 2),
        fmt(c.latency.p99Us, 2),
        fmt(c.medianCpuSecPer10k, 3),
        `${fmt(ratio, 2)}x`,
      ];
    }),
  );
}

/** @type {import('../lib/report.mjs').Column[]} */
const TARGET_COLUMNS = [
  { title: 'Algorithm' },
  { title: 'Target' },
  { title: 'Measured', align: 'right' },
  { title: 'Verdict' },
];

/**
 * @param {ReturnType<typeof evaluateTargets>} targets
 * @returns {string[][]}
 */
function targetRows(targets) {
  return targets.map((t) => [t.alg, t.target, `${fmt(t.ratio, 2)}x`, t.pass ? 'PASS' : 'FAIL']);
}

/** @type {import('../lib/report.mjs').Column[]} */
const MEMORY_COLUMNS = [
  { title: 'Cache entries', align: 'right' },
  { title: 'Retained heap', align: 'right' },
  { title: 'Heap bytes/entry', align: 'right' },
  { title: 'RSS delta', align: 'right' },
  { title: 'Process peak RSS', align: 'right' },
];

/**
 * @param {Awaited<ReturnType<typeof measureCacheMemory>>} m
 * @returns {string[][]}
 */
function memoryRows(m) {
  return [
    [
      fmt(m.entries),
      `${fmt(m.retainedHeapMiB, 1)} MiB`,
      fmt(m.heapBytesPerEntry),
      `${fmt(m.rssDeltaMiB, 1)} MiB`,
      `${fmt(m.processMaxRssMiB, 1)} MiB`,
    ],
  ];
}

async function main() {
  const machine = machineInfo();
  const date = today();
  const startedAt = new Date().toISOString();
  // Other work on the machine skews every number: the load average says how quiet it was.
  const loadStart = os.loadavg()[0] ?? Number.NaN;
  progress(`Guard verification benchmark: ${machineLine(machine)}`);
  progress(`${ROUNDS} x ${PARAMETERS.sliceMs} ms per contender (warm-up ${PARAMETERS.warmupMs} ms)`);

  const algorithms = [];
  for (const alg of ALGORITHMS) {
    progress(`${alg}:`);
    algorithms.push(await benchAlgorithm(alg));
    gc();
  }
  progress(`Cache memory (${fmt(PARAMETERS.cacheEntries)} distinct ES256 tokens):`);
  const memory = await measureCacheMemory(PARAMETERS.cacheEntries);
  const targets = evaluateTargets(algorithms);
  const command = reproduceCommand();

  const method =
    `Each verify is awaited before the next. After a ${PARAMETERS.warmupMs} ms warm-up per contender, ` +
    `the three contenders of an algorithm alternate in ${ROUNDS} of ${PARAMETERS.sliceMs} ms ` +
    `slices, order rotated every round; ops/s, µs/op and CPU s/10k (user + system CPU of the process, the ` +
    `thread pool included, per 10 000 verifications) are the medians over the rounds, p50/p90/p99 come from ` +
    `timing single calls for ${PARAMETERS.latencyMs} ms; peak RSS is in the memory table below. jose: \`jwtVerify\` with a pre-imported key; ` +
    `guard: \`createVerifier\` with a static JWKS, \`cache: false\` or the default cache (same token again). ` +
    `Token sizes: ${algorithms.map((a) => `${a.alg} ${a.tokenBytes} bytes`).join(', ')}.`;
  const load = `Load average (1 min) ${fmt(loadStart, 2)} at start, ${fmt(os.loadavg()[0] ?? Number.NaN, 2)} at end`;

  // stdout: the report; stderr carried the progress lines.
  const out = [
    '',
    `Guard verification, ${date}`,
    `Machine: ${machineLine(machine)}`,
    `${load}`,
    `Median of ${ROUNDS} x ${PARAMETERS.sliceMs} ms, warm-up ${PARAMETERS.warmupMs} ms; RSA ${PARAMETERS.rsaModulusBits}-bit`,
    '',
    textTable(THROUGHPUT_COLUMNS, throughputRows(algorithms)),
    '',
    'Targets (informative, never fail the run):',
    textTable(TARGET_COLUMNS, targetRows(targets)),
    '',
    `Verification cache memory (${fmt(memory.entries)} distinct ES256 tokens, filled in ${fmt(memory.fillSeconds, 1)} s):`,
    textTable(MEMORY_COLUMNS, memoryRows(memory)),
    '',
  ];
  process.stdout.write(out.join('\n'));

  const resultFile = path.join(REPO_ROOT, 'bench', 'results', `guard-${date}.json`);
  await writeJson(resultFile, {
    benchmark: 'guard-verification',
    date,
    startedAt,
    finishedAt: new Date().toISOString(),
    command,
    machine,
    loadAverage1m: { start: loadStart, end: os.loadavg()[0] ?? Number.NaN },
    parameters: { ...PARAMETERS, targets: TARGETS },
    method,
    algorithms,
    memory,
    targets,
    allTargetsPass: targets.every((t) => t.pass),
  });

  const doc = path.join(REPO_ROOT, 'docs', 'performance.md');
  await updateMarkedSection(
    doc,
    'guard',
    [
      '## Guard verification',
      '',
      `Generated by \`${command}\` on ${date}; raw numbers in \`bench/results/guard-${date}.json\`.`,
      '',
      `Machine: ${machineLine(machine)}. ${load}.`,
      '',
      method,
      '',
      markdownTable(THROUGHPUT_COLUMNS, throughputRows(algorithms)),
      '',
      'Targets (informative, never asserted in CI):',
      '',
      markdownTable(TARGET_COLUMNS, targetRows(targets)),
      '',
      `Verification cache memory: ${fmt(memory.entries)} results of distinct ES256 tokens, heap measured ` +
        'after a full garbage collection before and after filling the cache.',
      '',
      markdownTable(MEMORY_COLUMNS, memoryRows(memory)),
    ].join('\n'),
  );
  progress(
    `Wrote ${path.relative(REPO_ROOT, resultFile)} and ${path.relative(REPO_ROOT, doc)} (section bench:guard).`,
  );
}

await main();

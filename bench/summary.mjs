/**
 * The last step of `npm run bench`: gathers the targets of the three benchmarks run just before
 * (guard, auth-server, gateway, each in `bench/results/<name>-<date>.json`) into one file,
 * `bench/results/<date>.json`, and one table, the `bench:summary` section of docs/performance.md.
 * It measures nothing itself: every figure is a ratio or a value its benchmark measured side by side
 * in its own run. A benchmark whose file for the date is missing is listed as not run.
 *
 * Run: `node bench/summary.mjs [YYYY-MM-DD]` (default: today).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT, markdownTable, textTable, today, updateMarkedSection, writeJson } from './lib/report.mjs';

const BENCHMARKS = /** @type {const} */ (['guard', 'auth-server', 'gateway']);

/**
 * One target as the summary shows it, whatever the shape its benchmark wrote.
 * @typedef {object} SummaryTarget
 * @property {string} benchmark
 * @property {string} target
 * @property {string} measured
 * @property {'PASS' | 'FAIL'} verdict
 */

/**
 * @param {unknown} value
 * @returns {string}
 */
function ratio(value) {
  return typeof value === 'number' && Number.isFinite(value) ? `${value.toFixed(2)}x` : 'n/a';
}

/**
 * Reads one benchmark's targets, in the forms the three scripts write them: guard
 * `{ alg, target, ratio, pass }`, auth-server `{ scenario, target, ratio | measured, verdict }`,
 * gateway `{ target, measured, verdict }`.
 * @param {string} benchmark
 * @param {Record<string, unknown>} result
 * @returns {SummaryTarget[]}
 */
function targetsOf(benchmark, result) {
  const targets = /** @type {Record<string, unknown>[]} */ (
    Array.isArray(result['targets']) ? result['targets'] : []
  );
  return targets.map((t) => {
    const scope =
      typeof t['alg'] === 'string' ? t['alg'] : typeof t['scenario'] === 'string' ? t['scenario'] : '';
    const text = String(t['target'] ?? t['id'] ?? '?');
    const verdict =
      t['verdict'] === 'PASS' || t['verdict'] === 'FAIL'
        ? t['verdict']
        : t['pass'] === true
          ? 'PASS'
          : 'FAIL';
    return {
      benchmark,
      target: scope === '' ? text : `${scope}: ${text}`,
      measured: typeof t['measured'] === 'string' ? t['measured'] : ratio(t['ratio'] ?? t['value']),
      verdict,
    };
  });
}

async function main() {
  const date = process.argv[2] ?? today();
  /** @type {SummaryTarget[]} */
  const targets = [];
  /** @type {Record<string, { file: string, command?: unknown, startedAt?: unknown, machine?: unknown } | { missing: true }>} */
  const runs = {};
  for (const benchmark of BENCHMARKS) {
    const file = path.join('bench', 'results', `${benchmark}-${date}.json`);
    /** @type {Record<string, unknown>} */
    let result;
    try {
      result = JSON.parse(await readFile(path.join(REPO_ROOT, file), 'utf8'));
    } catch (err) {
      if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'ENOENT') throw err;
      runs[benchmark] = { missing: true };
      continue;
    }
    runs[benchmark] = {
      file,
      command: result['command'],
      startedAt: result['startedAt'],
      machine: result['machine'],
    };
    targets.push(...targetsOf(benchmark, result));
  }
  const failed = targets.filter((t) => t.verdict === 'FAIL').length;
  await writeJson(path.join(REPO_ROOT, 'bench', 'results', `${date}.json`), {
    date,
    runs,
    targets,
    passed: targets.length - failed,
    failed,
  });

  const columns = [
    { title: 'Benchmark' },
    { title: 'Target' },
    { title: 'Measured', align: /** @type {const} */ ('right') },
    { title: 'Verdict' },
  ];
  const rows = targets.map((t) => [t.benchmark, t.target, t.measured, t.verdict]);
  const missing = BENCHMARKS.filter((b) => 'missing' in (runs[b] ?? { missing: true }));
  console.log(textTable(columns, rows));
  console.log(`\n${targets.length - failed} of ${targets.length} targets met.`);
  if (missing.length > 0) console.log(`Not run on ${date}: ${missing.join(', ')}.`);

  const body = [
    '## Summary: every target',
    '',
    `Gathered by \`bench/summary.mjs\` (the last step of \`npm run bench\`) from the runs of ${date}; one file, ` +
      `\`bench/results/${date}.json\`. Each figure comes from its own benchmark's section below, where the ` +
      'contenders ran side by side in one run; no figure is compared across runs.',
    '',
    markdownTable(columns, rows),
    '',
    `${targets.length - failed} of ${targets.length} targets met.` +
      (missing.length > 0 ? ` Not run on ${date}: ${missing.join(', ')}.` : ''),
  ].join('\n');
  await updateMarkedSection(path.join(REPO_ROOT, 'docs', 'performance.md'), 'summary', body);
}

await main();

/**
 * Output of the benchmarks: machine description, plain-text and Markdown tables, the JSON result
 * file and the generated section of docs/performance.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (bench/lib/ is two levels down). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Makes sure `global.gc` exists: if node was started without --expose-gc, runs this same script again
 * in a child process with the flag (same arguments, environment and stdio) and exits with its code.
 * Returns only in a process that has `gc`.
 * @param {string} scriptPath
 * @returns {() => void} A full garbage collection.
 */
export function requireExposedGc(scriptPath) {
  const gc = globalThis.gc;
  if (typeof gc === 'function') return () => void gc();
  const child = spawnSync(
    process.execPath,
    [...process.execArgv, '--expose-gc', scriptPath, ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  if (child.error !== undefined) throw child.error;
  process.exit(child.status ?? 1);
}

/**
 * @typedef {object} MachineInfo
 * @property {string} node
 * @property {string} v8
 * @property {string} openssl
 * @property {string} cpu
 * @property {number} cores
 * @property {number} availableParallelism
 * @property {string} os
 * @property {string} arch
 * @property {number} totalMemoryGb
 */

/** @returns {MachineInfo} */
export function machineInfo() {
  const cpus = os.cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    openssl: process.versions.openssl ?? 'unknown',
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    availableParallelism: os.availableParallelism(),
    os: `${os.type()} ${os.release()}`,
    arch: process.arch,
    totalMemoryGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  };
}

/**
 * One line describing the machine, for tables and docs.
 * @param {MachineInfo} m
 * @returns {string}
 */
export function machineLine(m) {
  return (
    `${m.cpu}, ${m.cores} cores, ${m.totalMemoryGb} GB RAM, ${m.os} ${m.arch}, ` +
    `Node ${m.node} (V8 ${m.v8}, OpenSSL ${m.openssl})`
  );
}

/** Local calendar date, YYYY-MM-DD. */
export function today() {
  const d = new Date();
  const pad = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/**
 * A number with thousands separators and a fixed number of decimals.
 * @param {number} value
 * @param {number} [decimals]
 * @returns {string}
 */
export function fmt(value, decimals = 0) {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/**
 * @typedef {object} Column
 * @property {string} title
 * @property {'left' | 'right'} [align]
 */

/**
 * A fixed-width plain-text table.
 * @param {readonly Column[]} columns
 * @param {readonly (readonly string[])[]} rows
 * @returns {string}
 */
export function textTable(columns, rows) {
  const widths = columnWidths(columns, rows);
  const line = (/** @type {readonly string[]} */ cells) =>
    cells
      .map((cell, i) => pad(cell, widths[i] ?? 0, columns[i]?.align))
      .join('  ')
      .trimEnd();
  return [
    line(columns.map((c) => c.title)),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
  ].join('\n');
}

/**
 * A Markdown table laid out exactly as Prettier would print it, so `prettier --check` accepts the
 * generated docs without a formatting pass.
 * @param {readonly Column[]} columns
 * @param {readonly (readonly string[])[]} rows
 * @returns {string}
 */
export function markdownTable(columns, rows) {
  const widths = columnWidths(columns, rows).map((w) => Math.max(w, 3));
  const line = (/** @type {readonly string[]} */ cells) =>
    `| ${cells.map((cell, i) => pad(cell, widths[i] ?? 0, columns[i]?.align)).join(' | ')} |`;
  const rule = columns.map((c, i) => {
    const w = widths[i] ?? 3;
    return c.align === 'right' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w);
  });
  return [line(columns.map((c) => c.title)), `| ${rule.join(' | ')} |`, ...rows.map(line)].join('\n');
}

/**
 * @param {readonly Column[]} columns
 * @param {readonly (readonly string[])[]} rows
 * @returns {number[]}
 */
function columnWidths(columns, rows) {
  return columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => (r[i] ?? '').length)));
}

/**
 * @param {string} text
 * @param {number} width
 * @param {'left' | 'right' | undefined} align
 * @returns {string}
 */
function pad(text, width, align) {
  return align === 'right' ? text.padStart(width) : text.padEnd(width);
}

/**
 * Writes `data` as pretty JSON, creating the directory.
 * @param {string} file
 * @param {unknown} data
 */
export async function writeJson(file, data) {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(data, null, 2)}\n`);
}

const PERFORMANCE_DOC_HEADER = `# Performance

The sections between \`<!-- bench:NAME:start -->\` and \`<!-- bench:NAME:end -->\` markers are generated
by a benchmark in [\`bench/\`](../bench/README.md) and rewritten on each run: do not edit their numbers
by hand. Notes outside the markers are written by hand and say when their measurements were taken.
Benchmarks are informative only; CI never asserts them.
`;

/**
 * Replaces the section between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->` in a Markdown
 * file, appending it when absent; the rest of the file is kept byte for byte.
 * @param {string} file
 * @param {string} name
 * @param {string} body Markdown, without the markers.
 */
export async function updateMarkedSection(file, name, body) {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  /** @type {string} */
  let current;
  try {
    current = await readFile(file, 'utf8');
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'ENOENT') throw err;
    current = PERFORMANCE_DOC_HEADER;
  }
  const section = `${start}\n\n${body.trim()}\n\n${end}`;
  const from = current.indexOf(start);
  const to = current.indexOf(end);
  let next;
  if (from !== -1 && to > from) {
    next = current.slice(0, from) + section + current.slice(to + end.length);
  } else {
    next = `${current.trimEnd()}\n\n${section}\n`;
  }
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, next);
}

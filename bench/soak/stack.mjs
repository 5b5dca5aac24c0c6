/**
 * The stack under soak: the built `gatehouse up` (what `npm start` runs) in a temporary data dir on
 * a free port range, with the probe preloaded into every Node process it starts.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { processTree } from '../gateway/proc.mjs';
import { REPO_ROOT } from '../lib/report.mjs';

export const BIN = path.join(REPO_ROOT, 'packages/cli/bin/gatehouse.js');

/** What `gatehouse up` runs: the built CLI, BFF and demo services. */
export const BUILT = [
  'packages/cli/dist/main.js',
  'packages/bff/dist/index.js',
  'examples/accounts/dist/main.js',
  'examples/orders/dist/main.js',
].map((file) => path.join(REPO_ROOT, file));

const PROBE = pathToFileURL(path.join(path.dirname(new URL(import.meta.url).pathname), 'probe.mjs')).href;

/** Ports of the stack from `--port-base` on (auth server, gateway, BFF, admin, two admin listeners, two services). */
const PORTS = 8;

/** A first start creates the database, keys, certificates, clients and users. */
const READY_TIMEOUT_MS = 180_000;

/** @param {number} port */
function portFree(port) {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/**
 * A base below the ephemeral port range with 8 free ports after it.
 * @returns {Promise<number>}
 */
export async function freePortBase() {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 12_000 + Math.floor(Math.random() * 1_800) * 10;
    const free = await Promise.all(Array.from({ length: PORTS }, (_, i) => portFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no free range of 8 ports');
}

/**
 * @typedef {object} Stack
 * @property {number} pid Of `gatehouse up`.
 * @property {number} portBase
 * @property {import('./scenarios.mjs').DemoJson} demo
 * @property {{ clientId: string, clientSecret: string }} gatewayClient
 * @property {string[]} status The lines `gatehouse up` printed on standard error.
 * @property {Promise<number | null>} exited Resolves with the exit code when `up` exits.
 * @property {() => Promise<number | null>} stop SIGINT (Ctrl-C), then the exit code (null: killed after 30 s).
 */

/**
 * Starts `gatehouse up --data-dir <dataDir> --port-base <free>` and resolves once it prints that
 * every component is ready. Its standard output (every component's log) goes to `logFile`.
 * @param {{ dataDir: string, probeDir: string, probeMs: number, gcMs: number, logFile: string }} options
 * @returns {Promise<Stack>}
 */
export async function startStack({ dataDir, probeDir, probeMs, gcMs, logFile }) {
  const portBase = await freePortBase();
  const env = { ...process.env };
  // `up` is the embedded stack: it ignores these itself, say so by not passing them.
  delete env['DATABASE_URL'];
  delete env['REDIS_URL'];
  env['NODE_OPTIONS'] = `${env['NODE_OPTIONS'] ?? ''} --import=${PROBE}`.trim();
  env['GATEHOUSE_SOAK_PROBE_DIR'] = probeDir;
  env['GATEHOUSE_SOAK_PROBE_MS'] = String(probeMs);
  env['GATEHOUSE_SOAK_GC_MS'] = String(gcMs);
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, [BIN, 'up', '--data-dir', dataDir, '--port-base', String(portBase)], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', log, 'pipe'],
  });
  closeSync(log);
  /** @type {string[]} */
  const status = [];
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  // Never leave components behind: the whole tree, children first (they would outlive `up`).
  const kill = () => {
    for (const pid of processTree(/** @type {number} */ (child.pid)).reverse()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', kill);
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGINT');
      reject(new Error(`gatehouse up was not ready in ${READY_TIMEOUT_MS / 1000} s:\n${status.join('\n')}`));
    }, READY_TIMEOUT_MS);
    createInterface({ input: /** @type {import('node:stream').Readable} */ (child.stderr) }).on(
      'line',
      (line) => {
        status.push(line);
        if (line.includes('gatehouse up: ready')) {
          clearTimeout(timer);
          resolve(undefined);
        }
      },
    );
    void exited.then((code) => {
      clearTimeout(timer);
      reject(
        new Error(
          `gatehouse up exited (${String(code)}) before it was ready (log: ${logFile}):\n${status.join('\n')}`,
        ),
      );
    });
  });
  const demo = JSON.parse(readFileSync(path.join(dataDir, 'demo.json'), 'utf8'));
  const state = JSON.parse(readFileSync(path.join(dataDir, 'stack-state.json'), 'utf8'));
  return {
    pid: /** @type {number} */ (child.pid),
    portBase,
    demo,
    gatewayClient: state.gatewayClient,
    status,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      const timer = setTimeout(kill, 30_000);
      const code = await exited;
      clearTimeout(timer);
      process.off('exit', kill);
      return /** @type {number | null} */ (code);
    },
  };
}

/** Files of the build the stack needs, missing ones. */
export function missingBuild() {
  return BUILT.filter((file) => !existsSync(file));
}

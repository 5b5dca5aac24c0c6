/**
 * Starting and stopping the processes of the benchmark: Node scripts of this folder (ready over
 * IPC), and commands (the gatehouse CLI, nginx) that announce themselves on standard error. Each
 * runs alone in its own process so that CPU and memory can be read per contender from /proc.
 */
import { fork, spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { createInterface } from 'node:readline';

/** @param {string} message */
export const progress = (message) => void process.stderr.write(`${message}\n`);

/**
 * @typedef {object} Running
 * @property {string} label
 * @property {number} pid
 * @property {string} url
 * @property {string[]} output Lines printed on standard error (and standard output when piped).
 * @property {() => Promise<number | null>} stop Graceful stop; resolves the exit code.
 */

/** Every started process, stopped on exit if the run fails half-way. */
const started = new Set();

process.once('exit', () => {
  for (const child of started) child.kill('SIGKILL');
});

/**
 * Collects the lines of a stream into `output` and echoes warnings.
 * @param {import('node:stream').Readable | null} stream
 * @param {string} label
 * @param {string[]} output
 * @param {(line: string) => void} [onLine]
 * @param {boolean} [echoAll] Echo every line (a log at `warn` level), not only warnings and errors.
 */
function collect(stream, label, output, onLine, echoAll = false) {
  if (stream === null) return;
  createInterface({ input: stream }).on('line', (line) => {
    output.push(line);
    if (echoAll || /warn|error|fail/i.test(line)) progress(`  [${label}] ${line.slice(0, 300)}`);
    onLine?.(line);
  });
}

/**
 * @param {import('node:child_process').ChildProcess} child
 * @param {() => void} ask Asks the process to stop (IPC message or signal).
 * @returns {() => Promise<number | null>}
 */
function stopper(child, ask) {
  const exited = new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
  return async () => {
    ask();
    // A profiled process writes its profile while exiting: give it time before killing it.
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = /** @type {number | null} */ (await exited);
    clearTimeout(timer);
    started.delete(child);
    return code;
  };
}

/**
 * Forks a script of this folder and waits for its `{ type: 'ready', url }` message.
 * @param {{ label: string, script: string, env?: Record<string, string>, execArgv?: string[] }} options
 * @returns {Promise<Running>}
 */
export async function startScript({ label, script, env = {}, execArgv = [] }) {
  const child = fork(script, [], {
    execArgv,
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  started.add(child);
  /** @type {string[]} */
  const output = [];
  collect(child.stdout, label, output);
  collect(child.stderr, label, output);
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label} did not start within 30 s`)), 30_000);
    child.on('message', (/** @type {{ type: string, url: string }} */ message) => {
      if (message.type !== 'ready') return;
      clearTimeout(timer);
      resolve(message.url);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited with code ${String(code)} before listening:\n${output.join('\n')}`));
    });
  });
  return {
    label,
    pid: child.pid ?? -1,
    url,
    output,
    stop: stopper(child, () => child.connected && child.send({ type: 'stop' })),
  };
}

/**
 * Spawns a command and waits until a line of its standard error matches `ready` (the first capture
 * group is the URL), or until `ready()` resolves (a command that prints nothing: then `url` is it). Standard output goes to `stdout`: a file path (e.g. /dev/null, for JSON logs),
 * or `pipe` to collect it. `env` is the whole environment of the command.
 * @param {{ label: string, command: string, args: string[], env?: NodeJS.ProcessEnv, ready: RegExp | (() => Promise<void>),
 *   stdout?: string, url?: string, stopSignal?: NodeJS.Signals }} options
 * @returns {Promise<Running>}
 */
export async function startCommand({
  label,
  command,
  args,
  env = process.env,
  ready,
  stdout = 'pipe',
  url,
  stopSignal = 'SIGTERM',
}) {
  const fd = stdout === 'pipe' ? 'pipe' : openSync(stdout, 'a');
  const child = spawn(command, args, {
    env,
    stdio: ['ignore', fd, 'pipe'],
  });
  if (typeof fd === 'number') closeSync(fd);
  started.add(child);
  /** @type {string[]} */
  const output = [];
  /** @type {(line: string) => void} */
  let onLine = () => {};
  // Piped standard output is a log at level warn: everything in it is worth showing.
  collect(child.stdout, label, output, undefined, true);
  collect(child.stderr, label, output, (line) => onLine(line));
  const found = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${label} did not start within 60 s:\n${output.join('\n')}`)),
      60_000,
    );
    const done = (/** @type {string} */ value) => {
      clearTimeout(timer);
      onLine = () => {};
      resolve(value);
    };
    if (typeof ready === 'function') {
      ready().then(() => done(url ?? ''), reject);
    } else {
      onLine = (line) => {
        const match = ready.exec(line);
        if (match !== null) done(match[1] ?? url ?? '');
      };
    }
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(
        new Error(`${label} exited with code ${String(code)} before it was ready:\n${output.join('\n')}`),
      );
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  return {
    label,
    pid: child.pid ?? -1,
    url: found,
    output,
    stop: stopper(child, () => child.kill(stopSignal)),
  };
}

/**
 * Runs a command to completion and returns its standard output (throws with its standard error on
 * a non-zero exit).
 * @param {string} command
 * @param {string[]} args
 * @param {NodeJS.ProcessEnv} [env] The whole environment of the command.
 * @returns {Promise<string>}
 */
export async function runCommand(command, args, env = process.env) {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  /** @type {Buffer[]} */
  const out = [];
  /** @type {Buffer[]} */
  const err = [];
  child.stdout.on('data', (chunk) => out.push(chunk));
  child.stderr.on('data', (chunk) => err.push(chunk));
  const code = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) {
    throw new Error(
      `${command} ${args[0] ?? ''} ${args[1] ?? ''} exited with ${String(code)}: ${Buffer.concat(err).toString('utf8')}`,
    );
  }
  return Buffer.concat(out).toString('utf8');
}

/**
 * A free TCP port on 127.0.0.1 (for servers whose configuration must name their port: nginx, and
 * the issuer of the authorization server).
 * @returns {Promise<number>}
 */
export async function freePort() {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (probe.address());
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Resolves once a TCP connection to `url` succeeds (polled every 50 ms, for up to `ms`).
 * @param {string} url
 * @param {number} [ms]
 * @returns {Promise<void>}
 */
export async function waitForPort(url, ms = 30_000) {
  const { connect } = await import('node:net');
  const target = new URL(url);
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = connect({ host: target.hostname, port: Number(target.port) });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${url} after ${String(ms)} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CliIo } from '../io.js';
import { writeLine } from '../io.js';

/** One component of the stack: a separate process, as it would run on its own machine. */
export interface ChildSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Resolves true once the component answers its health check. */
  readonly ready: () => Promise<boolean>;
}

export interface Supervisor {
  /** Starts the processes of one step together and waits until every one is ready. */
  start(specs: readonly ChildSpec[], timeoutMs: number): Promise<void>;
  /** Resolves with the first unexpected exit (a failure), or never. */
  readonly failed: Promise<string>;
  /** SIGTERM to every process, latest first; SIGKILL to what is still running after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

interface Running {
  readonly spec: ChildSpec;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  exitCode: number | null;
  exitSignal: NodeJS.Signals | null;
}

const POLL_MS = 200;

/**
 * Runs the components of `gatehouse up` as child processes: their output prefixed with their name
 * on our standard output, an unexpected exit reported as a failure, and a clean stop of all of
 * them (a Ctrl-C in the terminal also reaches them: that exit is not a failure).
 */
export function createSupervisor(io: CliIo, env: NodeJS.ProcessEnv): Supervisor {
  const running: Running[] = [];
  const width = 12;
  let stopping = false;
  let reportFailure: (reason: string) => void = () => undefined;
  const failed = new Promise<string>((resolve) => {
    reportFailure = resolve;
  });

  function pipe(name: string, stream: NodeJS.ReadableStream | null, to: CliIo['stdout']): void {
    if (stream === null) return;
    const prefix = `${name.padEnd(width)}| `;
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      to.write(`${prefix}${line}\n`);
    });
  }

  function launch(spec: ChildSpec): Running {
    const child = spawn(spec.command, [...spec.args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    pipe(spec.name, child.stdout, io.stdout);
    pipe(spec.name, child.stderr, io.stdout);
    const entry: Running = {
      spec,
      child,
      exitCode: null,
      exitSignal: null,
      exited: new Promise<void>((resolve) => {
        child.once('exit', (code, signal) => {
          entry.exitCode = code;
          entry.exitSignal = signal;
          resolve();
          // A terminal's Ctrl-C reaches the children too, a moment before our own handler runs.
          setTimeout(() => {
            if (!stopping) {
              const how = signal === null ? `exit code ${String(code)}` : `signal ${signal}`;
              reportFailure(`${spec.name} stopped unexpectedly (${how})`);
            }
          }, 300).unref();
        });
        child.once('error', (err) => {
          reportFailure(`${spec.name} could not be started: ${err.message}`);
          resolve();
        });
      }),
    };
    running.push(entry);
    return entry;
  }

  async function waitReady(entry: Running, deadline: number): Promise<void> {
    for (;;) {
      if (entry.exitCode !== null || entry.exitSignal !== null) {
        throw new Error(`${entry.spec.name} exited while starting (exit code ${String(entry.exitCode)})`);
      }
      if (await entry.spec.ready().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`${entry.spec.name} was not ready in time`);
      await sleep(POLL_MS);
    }
  }

  return {
    failed,
    async start(specs, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      const entries = specs.map(launch);
      await Promise.all(entries.map((entry) => waitReady(entry, deadline)));
      for (const entry of entries) writeLine(io.stderr, `gatehouse up: ${entry.spec.name} is ready`);
    },
    async stop(graceMs = 10_000) {
      stopping = true;
      for (const entry of [...running].reverse()) {
        if (entry.exitCode === null && entry.exitSignal === null) entry.child.kill('SIGTERM');
      }
      const all = Promise.all(running.map((entry) => entry.exited));
      // The grace timer is cancelled once everything has exited: it must not hold the process open.
      const grace = new AbortController();
      const timer = sleep(graceMs, 'timeout' as const, { signal: grace.signal }).catch(
        () => 'cancelled' as const,
      );
      const outcome = await Promise.race([all, timer]);
      grace.abort();
      if (outcome === 'timeout') {
        for (const entry of running) {
          if (entry.exitCode === null && entry.exitSignal === null) entry.child.kill('SIGKILL');
        }
        await all;
      }
    },
  };
}

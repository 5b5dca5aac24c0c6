import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TEST_ADMIN_TOKEN, TEST_KEK_B64 } from './cli.js';

export const BIN = fileURLToPath(new URL('../../bin/gatehouse.js', import.meta.url));

/** Built entry points of the packages a binary test runs (`npm test` builds first). */
export function distOf(packages: readonly string[]): string[] {
  return [
    fileURLToPath(new URL('../../dist/main.js', import.meta.url)),
    ...packages.map((name) => fileURLToPath(new URL(`../../../${name}/dist/index.js`, import.meta.url))),
  ];
}

/** The built binary needs `npm run build`; without it the suite skips, saying why (never under REQUIRE_ALL). */
export function builtOrSkip(suite: string, dist: readonly string[]): boolean {
  const missing = dist.filter((file) => !existsSync(file));
  if (missing.length === 0) return true;
  const message = `${suite}: skipped, not built (${missing.join(', ')}); run npm run build`;
  if (process.env['GATEHOUSE_REQUIRE_ALL'] === '1')
    throw new Error(`${message}, and GATEHOUSE_REQUIRE_ALL=1 forbids skipping`);
  const log = process.env['GATEHOUSE_SKIP_LOG'];
  if (log !== undefined) appendFileSync(log, `${message}\n`);
  process.stderr.write(`[gatehouse] ${message}\n`);
  return false;
}

/** The child's environment: the test KEK and admin token, none of the machine's store URLs. */
export function childEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'],
    GATEHOUSE_KEK: TEST_KEK_B64,
    GATEHOUSE_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    ...extra,
  };
}

export interface Started {
  readonly child: ChildProcess;
  readonly url: string;
  readonly admin: string;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs `gatehouse <args>` in `cwd` and resolves once `ready` finds the listener URLs in standard
 * error; rejects if the process exits first or takes longer than 15 s.
 */
export function startBinary(
  args: readonly string[],
  cwd: string,
  ready: (stderr: string) => { url: string; admin: string } | undefined,
  env: NodeJS.ProcessEnv = childEnv(),
): Promise<Started> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`gatehouse ${args[0] ?? ''} did not start:\n${err}`)),
      15_000,
    );
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString('utf8');
      const urls = ready(err);
      if (urls !== undefined) {
        clearTimeout(timer);
        resolve({ child, ...urls, stdout: () => out, stderr: () => err, exit });
      }
    });
    void exit.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`gatehouse ${args[0] ?? ''} exited with ${code}:\n${err}`));
    });
  });
}

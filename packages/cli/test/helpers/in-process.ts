import { Readable } from 'node:stream';
import { run } from '../../src/index.js';
import type { TestDeployment } from './cli.js';

/** Runs a long-running command in-process until `ready` matches its standard error. */
export async function startCommand(
  argv: readonly string[],
  deployment: Pick<TestDeployment, 'env' | 'dir'>,
  ready: RegExp,
): Promise<{ stderr: () => string; reload: () => void; stop: () => Promise<number> }> {
  const controller = new AbortController();
  let stderr = '';
  const listeners = new Set<() => void>();
  let announce: (() => void) | undefined;
  const announced = new Promise<void>((resolve) => (announce = resolve));
  const done = run(argv, {
    stdout: { write: () => true },
    stderr: {
      write: (text: string) => {
        stderr += text;
        if (ready.test(stderr)) announce?.();
      },
    },
    stdin: Readable.from([]),
    env: deployment.env,
    cwd: deployment.dir,
    signal: controller.signal,
    onReload: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  });
  await Promise.race([
    announced,
    done.then((code): never => {
      throw new Error(`${argv[0] ?? ''} exited early (${code}): ${stderr}`);
    }),
  ]);
  return {
    stderr: () => stderr,
    reload: () => {
      for (const listener of listeners) listener();
    },
    stop: () => {
      controller.abort();
      return done;
    },
  };
}

import type { CliIo } from './io.js';
import { run } from './run.js';

/** Standard input, touched only by a command that reads it (no handle is opened otherwise). */
const lazyStdin: CliIo['stdin'] = {
  get isTTY() {
    return process.stdin.isTTY;
  },
  setRawMode: (mode: boolean) => process.stdin.setRawMode(mode),
  [Symbol.asyncIterator]: () => process.stdin[Symbol.asyncIterator](),
};

/**
 * The `gatehouse` binary: runs the command with the process's streams and environment; SIGTERM and
 * SIGINT stop a running server gracefully (a second signal ends the process at once).
 */
export async function main(argv: readonly string[]): Promise<void> {
  const controller = new AbortController();
  const stop = (): void => {
    controller.abort();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    process.exitCode = await run(argv, {
      stdout: process.stdout,
      stderr: process.stderr,
      stdin: lazyStdin,
      env: process.env,
      cwd: process.cwd(),
      signal: controller.signal,
      onReload: (listener) => {
        process.on('SIGHUP', listener);
        return () => process.off('SIGHUP', listener);
      },
    });
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}

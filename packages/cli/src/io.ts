/** Where a command reads and writes: the process in `main`, captured buffers in tests. */
export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly stdin: AsyncIterable<string | Buffer> & {
    readonly isTTY?: boolean;
    setRawMode?(mode: boolean): unknown;
  };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Folder relative paths (and the default `gatehouse.yaml`) are resolved against. */
  readonly cwd: string;
  /** Stops a long-running command (`auth-server`); `main` aborts it on SIGTERM and SIGINT. */
  readonly signal?: AbortSignal;
  /** Registers a reload listener (`main`: SIGHUP); returns the function that removes it. */
  readonly onReload?: (listener: () => void) => () => void;
}

/** A command line that cannot be understood: usage on standard error, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A command that ran and failed for a reason the operator can act on: the message, exit code 1. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export function writeLine(stream: CliIo['stdout'], text = ''): void {
  stream.write(`${text}\n`);
}

/** `--json`: exactly one JSON document on standard output. */
export function writeJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Left-aligned columns for human-readable lists. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

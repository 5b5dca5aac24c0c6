import { CommandError, type CliIo } from '../io.js';

/**
 * Reads a password from standard input, never from the command line (argv is visible to every
 * user of the machine in the process list and lands in shell history). Piped input: everything up
 * to end of file, one trailing newline removed. A terminal: one line, not echoed.
 */
export async function readPassword(io: CliIo): Promise<string> {
  const password =
    io.stdin.isTTY === true && io.stdin.setRawMode !== undefined ? await readHidden(io) : await readAll(io);
  if (password === '') throw new CommandError('no password on standard input (an empty password is refused)');
  return password;
}

async function readAll(io: CliIo): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function readHidden(io: CliIo): Promise<string> {
  io.stderr.write('Password (not shown, Enter to finish): ');
  io.stdin.setRawMode?.(true);
  let password = '';
  try {
    for await (const chunk of io.stdin) {
      for (const char of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (char === '\r' || char === '\n' || char === '\u0004') return password;
        if (char === '\u0003') throw new CommandError('cancelled');
        if (char === '\u007f' || char === '\b')
          password = Array.from(new Intl.Segmenter().segment(password), (part) => part.segment)
            .slice(0, -1)
            .join('');
        else password += char;
      }
    }
    return password;
  } finally {
    io.stdin.setRawMode?.(false);
    io.stderr.write('\n');
  }
}

import { UsageError, type CliIo } from '../io.js';

export type Subcommand = (args: readonly string[], io: CliIo) => Promise<number>;

/**
 * A command made of subcommands (`gatehouse keys list|rotate|check`): runs the one named first; a
 * missing or unknown name is a usage error that says which.
 */
export function subcommands(command: string, table: Readonly<Record<string, Subcommand>>): Subcommand {
  return (args, io) => {
    const [name, ...rest] = args;
    const run = name !== undefined && Object.hasOwn(table, name) ? table[name] : undefined;
    if (run === undefined) {
      throw new UsageError(
        name === undefined ? `${command}: missing subcommand` : `${command}: unknown subcommand ${name}`,
      );
    }
    return run(rest, io);
  };
}

import { isGatehouseError } from '@gatehouse/core';
import { auditCommand } from './commands/audit.js';
import { reportCommand } from './commands/report.js';
import { authServerCommand } from './commands/auth-server.js';
import { bansCommand } from './commands/bans.js';
import { bffCommand } from './commands/bff.js';
import { certsCommand } from './commands/certs.js';
import { clientsCommand } from './commands/clients.js';
import { configCommand } from './commands/config.js';
import { doctorCommand } from './commands/doctor.js';
import { gatewayCommand } from './commands/gateway.js';
import { initCommand } from './commands/init.js';
import { keysCommand } from './commands/keys.js';
import { migrateCommand } from './commands/migrate.js';
import { reroutesCommand } from './commands/reroutes.js';
import { upCommand } from './commands/up.js';
import { usersCommand } from './commands/users.js';
import { CommandError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError, writeLine, type CliIo } from './io.js';
import { USAGE } from './usage.js';

type Command = (args: readonly string[], io: CliIo) => Promise<number>;

const COMMANDS: Readonly<Record<string, Command>> = {
  up: upCommand,
  init: initCommand,
  'auth-server': authServerCommand,
  gateway: gatewayCommand,
  bff: bffCommand,
  bans: bansCommand,
  reroutes: reroutesCommand,
  audit: auditCommand,
  report: reportCommand,
  clients: clientsCommand,
  users: usersCommand,
  keys: keysCommand,
  migrate: migrateCommand,
  certs: certsCommand,
  config: configCommand,
  doctor: doctorCommand,
};

/**
 * The whole program, testable in-process: parses `argv` (without the node and script paths), runs
 * the command and resolves its exit code (0 success, 1 failure, 2 usage). Nothing here reads
 * `process`; `main` passes the real streams, environment and signals.
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    (name === undefined ? io.stderr : io.stdout).write(USAGE);
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    writeLine(io.stderr, `gatehouse: unknown command: ${name}\n`);
    io.stderr.write(USAGE);
    return EXIT_USAGE;
  }
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(USAGE);
    return EXIT_OK;
  }
  try {
    return await command(args, io);
  } catch (err) {
    return report(err, name, io);
  }
}

function report(err: unknown, name: string, io: CliIo): number {
  if (err instanceof UsageError) {
    writeLine(io.stderr, `gatehouse ${name}: ${err.message}\n`);
    io.stderr.write(USAGE);
    return EXIT_USAGE;
  }
  if (err instanceof CommandError) {
    writeLine(io.stderr, `gatehouse ${name}: ${err.message}`);
    return EXIT_FAILURE;
  }
  if (isGatehouseError(err)) {
    // The detail of a refusal raised on purpose is written for the operator (never a secret).
    const detail = err.detail === undefined ? '' : `: ${err.detail}`;
    writeLine(io.stderr, `gatehouse ${name}: ${err.message}${detail}`);
    return EXIT_FAILURE;
  }
  const message = err instanceof Error ? err.message : String(err);
  writeLine(io.stderr, `gatehouse ${name}: unexpected error: ${message}`);
  return EXIT_FAILURE;
}

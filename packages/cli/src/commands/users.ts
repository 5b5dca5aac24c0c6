import { DEPLOYMENT_OPTIONS, JSON_OPTION, parse, requireValue } from '../args.js';
import { loadDeployment } from '../config/load-deployment.js';
import { EXIT_OK, formatTable, writeJson, writeLine, type CliIo } from '../io.js';
import { subcommands } from './subcommands.js';
import { CLI_ACTOR, withRuntime } from './common.js';
import { readPassword } from './read-password.js';

/** `gatehouse users create|list|delete`: directly on the deployment's stores. */
export const usersCommand = subcommands('users', { create, list, delete: remove });

async function create(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, {
    ...DEPLOYMENT_OPTIONS,
    ...JSON_OPTION,
    username: { type: 'string' },
    role: { type: 'string', multiple: true },
    name: { type: 'string' },
    email: { type: 'string' },
  });
  const username = requireValue(values.username, '--username');
  const deployment = await loadDeployment(io, { config: values.config, dataDir: values['data-dir'] });
  const password = await readPassword(io);
  const user = await withRuntime(io, deployment, (runtime) =>
    runtime.operations().createUser(
      {
        username,
        password,
        ...(values.role === undefined ? {} : { roles: values.role }),
        ...(values.name === undefined ? {} : { name: values.name }),
        ...(values.email === undefined ? {} : { email: values.email }),
      },
      CLI_ACTOR,
    ),
  );
  if (values.json === true) {
    writeJson(io, user);
    return EXIT_OK;
  }
  writeLine(io.stdout, `User created: ${user.username}`);
  writeLine(io.stdout, `  sub:    ${user.sub}`);
  writeLine(io.stdout, `  roles:  ${user.roles.join(' ')}`);
  return EXIT_OK;
}

async function list(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { ...DEPLOYMENT_OPTIONS, ...JSON_OPTION });
  const deployment = await loadDeployment(io, { config: values.config, dataDir: values['data-dir'] });
  const users = await withRuntime(io, deployment, (runtime) => runtime.operations().listUsers(CLI_ACTOR));
  if (values.json === true) {
    writeJson(io, { users });
    return EXIT_OK;
  }
  if (users.length === 0) {
    writeLine(io.stdout, 'No users.');
    return EXIT_OK;
  }
  writeLine(
    io.stdout,
    formatTable(
      ['USERNAME', 'SUB', 'ROLES', 'CREATED'],
      users.map((user) => [user.username, user.sub, user.roles.join(','), user.created_at]),
    ),
  );
  return EXIT_OK;
}

async function remove(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, { ...DEPLOYMENT_OPTIONS, ...JSON_OPTION }, 1);
  const username = requireValue(positionals[0], 'username');
  const deployment = await loadDeployment(io, { config: values.config, dataDir: values['data-dir'] });
  await withRuntime(io, deployment, (runtime) => runtime.operations().deleteUser(username, CLI_ACTOR));
  if (values.json === true) writeJson(io, { deleted: username });
  else writeLine(io.stdout, `User ${username} deleted (sessions ended, tokens revoked).`);
  return EXIT_OK;
}

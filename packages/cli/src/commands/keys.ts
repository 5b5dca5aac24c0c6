import {
  createAuthServer,
  createKeyService,
  type AdminOperations,
  type AuthServerDeps,
  type KeyService,
  type KeyView,
} from '@gatehouse/auth-server';
import { DEPLOYMENT_OPTIONS, JSON_OPTION, parse } from '../args.js';
import { loadDeployment, type Deployment } from '../config/load-deployment.js';
import { EXIT_FAILURE, EXIT_OK, UsageError, formatTable, writeJson, writeLine, type CliIo } from '../io.js';
import { loadDeploymentKek } from '../runtime/kek.js';
import type { Runtime } from '../runtime/open-runtime.js';
import { subcommands } from './subcommands.js';
import { CLI_ACTOR, withRuntime } from './common.js';

/** `gatehouse keys list|rotate|check`: the signing-key lifecycle, on the deployment's stores. */
export const keysCommand = subcommands('keys', { list, rotate, check });

type KeyCheck = Awaited<ReturnType<AdminOperations['checkKeys']>>;

/**
 * Runs `fn` with the key service. `inspect`: the keys as stored, nothing advanced (list and check
 * must report a stalled lifecycle, not repair it first). `operate`: the service exactly as a server
 * instance assembles it (lifecycle advanced first, as every running instance does each tick).
 */
async function withKeys<T>(
  io: CliIo,
  deployment: Deployment,
  mode: 'inspect' | 'operate',
  fn: (operations: AdminOperations, runtime: Runtime) => Promise<T>,
): Promise<T> {
  const { kek, warning } = await loadDeploymentKek(io, deployment);
  if (warning !== undefined) writeLine(io.stderr, `WARNING: ${warning}`);
  return withRuntime(io, deployment, async (runtime) => {
    const deps: AuthServerDeps = { ...runtime.base, config: deployment.config.authServer, kek };
    if (mode === 'inspect') {
      const keys: KeyService = createKeyService(deps, () =>
        Promise.reject(new Error('token lifetimes are only needed to advance the lifecycle')),
      );
      return fn(runtime.operations(keys), runtime);
    }
    const server = await createAuthServer(deps);
    try {
      return await fn(runtime.operations(server.services.keys), runtime);
    } finally {
      await server.close();
    }
  });
}

const time = (iso: string | null): string => (iso === null ? '-' : iso.replace(/\.\d{3}Z$/, 'Z'));

async function list(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { ...DEPLOYMENT_OPTIONS, ...JSON_OPTION });
  const deployment = await loadDeployment(io, { config: values.config, dataDir: values['data-dir'] });
  const keys = await withKeys(io, deployment, 'inspect', (operations) => operations.listKeys(CLI_ACTOR));
  if (values.json === true) {
    writeJson(io, { keys });
    return EXIT_OK;
  }
  if (keys.length === 0) {
    writeLine(io.stdout, 'No signing keys yet (the first is created when the server starts).');
    return EXIT_OK;
  }
  writeLine(
    io.stdout,
    formatTable(
      ['KID', 'STATUS', 'ALG', 'GEN', 'SIGNS FROM', 'ROTATES AT', 'UNPUBLISH AT'],
      keys.map((key: KeyView) => [
        key.kid,
        key.status,
        key.alg,
        String(key.generation),
        time(key.activated_at ?? key.activates_at),
        time(key.rotates_at),
        time(key.unpublish_at),
      ]),
    ),
  );
  return EXIT_OK;
}

async function rotate(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, {
    ...DEPLOYMENT_OPTIONS,
    ...JSON_OPTION,
    emergency: { type: 'boolean' },
    kid: { type: 'string' },
  });
  if (values.kid !== undefined && values.emergency !== true) {
    throw new UsageError('--kid is only meaningful with --emergency');
  }
  const deployment = await loadDeployment(io, { config: values.config, dataDir: values['data-dir'] });
  const result = await withKeys(io, deployment, 'operate', (operations) =>
    operations.rotateKeys(
      { emergency: values.emergency === true, ...(values.kid === undefined ? {} : { kid: values.kid }) },
      CLI_ACTOR,
    ),
  );
  if (values.json === true) {
    writeJson(io, result);
    return EXIT_OK;
  }
  if (!result.emergency) {
    writeLine(io.stdout, `Rotation started: key ${result.pending.kid} is published now.`);
    writeLine(io.stdout, `  It signs from ${time(result.pending.activates_at)} (after pre-publication);`);
    writeLine(io.stdout, '  the current key stays published until every token it signed has expired.');
    return EXIT_OK;
  }
  writeLine(io.stdout, `Key ${result.revoked_kid} revoked and unpublished.`);
  writeLine(
    io.stdout,
    `  ${result.tokens_invalidated} unexpired access token(s) signed by it no longer work` +
      (result.latest_expiry === null
        ? '.'
        : ` (the last would have expired at ${time(result.latest_expiry)}).`),
  );
  writeLine(io.stdout, `  New active key: ${result.new_kid}`);
  if (deployment.redisUrl === undefined) {
    // Memory shared state does not reach another process: a running server learns on its next tick.
    writeLine(
      io.stdout,
      `  A running server picks this up within keys.checkIntervalSec (${deployment.config.authServer.keys.checkIntervalSec} s); ` +
        'POST /admin/keys/rotate on its admin API takes effect at once.',
    );
  }
  return EXIT_OK;
}

async function check(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { ...DEPLOYMENT_OPTIONS, ...JSON_OPTION });
  const deployment = await loadDeployment(io, { config: values.config, dataDir: values['data-dir'] });
  const result: KeyCheck = await withKeys(io, deployment, 'inspect', (operations) =>
    operations.checkKeys(CLI_ACTOR),
  );
  if (values.json === true) {
    writeJson(io, { ok: result.ok, findings: result.findings });
  } else if (result.findings.length === 0) {
    writeLine(io.stdout, 'Signing keys: OK (no findings).');
  } else {
    for (const finding of result.findings) {
      writeLine(io.stdout, `${finding.severity.toUpperCase()}  ${finding.code}  ${finding.message}`);
    }
  }
  return result.ok ? EXIT_OK : EXIT_FAILURE;
}

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadTlsServerOptions, tlsListenerSchema } from '@gatehouse/core';
import { Agent, request, type Dispatcher } from 'undici';
import { parse } from '../args.js';
import { CommandError, EXIT_FAILURE, EXIT_OK, writeLine, type CliIo } from '../io.js';
import { startAdminFront, type AdminFront } from '../stack/admin-front.js';
import { pkiFiles } from '../stack/build-stack-deployment.js';
import { describeStack } from '../stack/describe-stack.js';
import { initStack } from '../stack/init-stack.js';
import { SERVICE_NAMES, loadStack, type Stack } from '../stack/load-stack.js';
import { createSupervisor, type ChildSpec } from '../stack/supervise.js';
import { stopped } from './auth-server.js';

export const STACK_OPTIONS = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
  'port-base': { type: 'string' },
  tls: { type: 'boolean' },
} as const;

/** Time allowed for each start step (a first start migrates databases and creates keys). */
const STEP_TIMEOUT_MS = 90_000;

/** The demo configuration has development users and a plain-HTTP issuer: never in production. */
export function refuseProduction(io: CliIo): void {
  if (io.env['NODE_ENV'] === 'production') {
    throw new CommandError(
      'the demo stack (development CA, demo users, plain-HTTP issuer) refuses to run with NODE_ENV=production',
    );
  }
}

/**
 * The children's environment: ours, without what would point a component at other stores or keys
 * (`up` is the embedded one-machine stack: SQLite files and memory in the data dir).
 */
function childEnvironment(env: CliIo['env'], caFile: string): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !['DATABASE_URL', 'REDIS_URL', 'GATEHOUSE_KEK'].includes(name))
      out[name] = value;
  }
  // The components trust the development CA (with --tls they call each other over https).
  out['NODE_EXTRA_CA_CERTS'] = caFile;
  return out;
}

async function answers200(url: string, dispatcher: Dispatcher): Promise<boolean> {
  const response = await request(url, {
    dispatcher,
    headersTimeout: 2000,
    bodyTimeout: 2000,
  });
  await response.body.dump();
  return response.statusCode === 200;
}

/**
 * `gatehouse up [--config STACK_FILE] [--data-dir DIR] [--port-base N] [--tls]`: the whole demo stack,
 * each component a separate process (as on separate machines): the auth server, then the two
 * services, then the gateway, then the BFF. Ready only when every health check passes;
 * Ctrl-C (SIGINT/SIGTERM) stops them all; a component that fails to start or stops unexpectedly
 * stops the others and exits 1.
 */
export async function upCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, STACK_OPTIONS);
  refuseProduction(io);
  const stack = await loadStack(io, {
    config: values.config,
    dataDir: values['data-dir'],
    portBase: values['port-base'],
    tls: values.tls,
  });
  for (const name of SERVICE_NAMES) {
    if (!existsSync(stack.serviceMains[name]))
      throw new CommandError(`${stack.serviceMains[name]} is missing: run \`npm run build\` first`);
  }
  const init = await initStack(io, stack);
  writeLine(io.stderr, `gatehouse up: data dir ${stack.dataDir}${init.created ? ' (created)' : ''}`);

  const pki = pkiFiles(stack.dataDir);
  // The health checks of the services present the gateway's certificate: nothing else gets in.
  const ca = await readFile(pki.ca.cert, 'utf8');
  const mtls = new Agent({
    connect: {
      cert: await readFile(pki.gateway.cert, 'utf8'),
      key: await readFile(pki.gateway.key, 'utf8'),
      ca,
    },
  });
  // The other checks trust the development CA only (https with --tls).
  const checks = new Agent({ connect: { ca } });
  const specs = buildSpecs(stack, init.deploymentFile, init.serviceConfigFiles, mtls, checks);
  const supervisor = createSupervisor(io, childEnvironment(io.env, pki.ca.cert));
  const stopRequested = stopped(io.signal).then(() => 'stop' as const);
  let admin: AdminFront | undefined;
  let code = EXIT_OK;
  try {
    // The services fetch the issuer's JWKS at start (and back off 10 s when it is not there yet).
    const steps = [[specs.authServer], [specs.accounts, specs.orders], [specs.gateway], [specs.bff]];
    for (const step of steps) {
      const outcome = await Promise.race([
        supervisor.start(step, STEP_TIMEOUT_MS).then(() => 'ready' as const),
        supervisor.failed,
        stopRequested,
      ]);
      if (outcome === 'stop') return EXIT_OK;
      if (outcome !== 'ready') throw new CommandError(outcome);
    }
    const all = Object.values(specs);
    admin = await startAdminFront({
      host: stack.host,
      port: stack.ports.admin,
      targets: {
        gateway: stack.urls.gatewayAdmin,
        bff: stack.urls.bff,
        authServer: stack.urls.authServerAdmin,
      },
      stackReady: async () =>
        (await Promise.all(all.map((spec) => spec.ready().catch(() => false)))).every(Boolean),
      ca,
      ...(stack.tls
        ? {
            tls: loadTlsServerOptions(
              tlsListenerSchema.parse({ certFile: pki.server.cert, keyFile: pki.server.key }),
              stack.dataDir,
            ),
          }
        : {}),
    });
    writeLine(io.stdout, '');
    writeLine(io.stdout, `Gatehouse demo stack is ready (data dir ${stack.dataDir})`);
    writeLine(io.stdout, '');
    writeLine(io.stdout, describeStack(stack, init));
    writeLine(io.stdout, '');
    writeLine(io.stdout, 'Press Ctrl-C to stop.');
    writeLine(io.stderr, 'gatehouse up: ready');
    const outcome = await Promise.race([supervisor.failed, stopRequested]);
    if (outcome !== 'stop') throw new CommandError(outcome);
  } catch (err) {
    writeLine(io.stderr, `gatehouse up: ${err instanceof Error ? err.message : String(err)}`);
    writeLine(io.stderr, 'gatehouse up: stopping every component');
    code = EXIT_FAILURE;
  } finally {
    await admin?.close();
    await supervisor.stop();
    await mtls.close();
    await checks.close();
    writeLine(io.stderr, 'gatehouse up: stopped');
  }
  return code;
}

function buildSpecs(
  stack: Stack,
  deploymentFile: string,
  serviceConfigFiles: Readonly<Record<(typeof SERVICE_NAMES)[number], string>>,
  mtls: Dispatcher,
  checks: Dispatcher,
): Record<'authServer' | 'accounts' | 'orders' | 'gateway' | 'bff', ChildSpec> {
  const node = process.execPath;
  const cli = fileURLToPath(new URL('../../bin/gatehouse.js', import.meta.url));
  const component = (name: string): readonly string[] => [cli, name, '--config', deploymentFile];
  const service = (name: (typeof SERVICE_NAMES)[number]): ChildSpec => ({
    name,
    command: node,
    args: [stack.serviceMains[name], '--config', serviceConfigFiles[name]],
    ready: () => answers200(`https://${stack.host}:${stack.ports[name]}/public/status`, mtls),
  });
  return {
    authServer: {
      name: 'auth-server',
      command: node,
      args: component('auth-server'),
      ready: () => answers200(`${stack.urls.issuer}/.well-known/openid-configuration`, checks),
    },
    accounts: service('accounts'),
    orders: service('orders'),
    gateway: {
      name: 'gateway',
      command: node,
      args: component('gateway'),
      ready: async () =>
        (await answers200(`${stack.urls.gatewayAdmin}/readyz`, checks)) &&
        (await answers200(`${stack.urls.gateway}/public/status`, checks)),
    },
    bff: {
      name: 'bff',
      command: node,
      args: component('bff'),
      ready: () => answers200(`${stack.urls.bff}/auth/session`, checks),
    },
  };
}

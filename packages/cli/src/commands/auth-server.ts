import type { AddressInfo } from 'node:net';
import {
  createAdminApp,
  createAuthServer,
  type AuthServer,
  type AuthServerDeps,
} from '@gatehouse/auth-server';
import type { FastifyInstance } from 'fastify';
import { DEPLOYMENT_OPTIONS, parse } from '../args.js';
import { deploymentFindings } from '../config/deployment-checks.js';
import { loadDeployment, type Deployment } from '../config/load-deployment.js';
import { CommandError, EXIT_OK, writeLine, type CliIo } from '../io.js';
import { loadDeploymentKek } from '../runtime/kek.js';
import { openRuntime, type Runtime } from '../runtime/open-runtime.js';

/**
 * Production (NODE_ENV=production) refuses unsafe settings; anywhere else they are loud warnings.
 * Returns the warnings to print.
 */
export function enforceFindings(deployment: Deployment, io: CliIo): void {
  const findings = deploymentFindings(deployment);
  const refused = findings.filter((finding) => deployment.production && finding.severity === 'high');
  if (refused.length > 0) {
    throw new CommandError(
      `refusing to start in production (NODE_ENV=production):\n${refused.map((f) => `  - ${f.message}`).join('\n')}`,
    );
  }
  for (const finding of findings) writeLine(io.stderr, `WARNING: ${finding.message}`);
}

export function boundUrl(app: FastifyInstance): string {
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

/** Resolves when the signal is aborted (never without one: the process is then stopped by a signal). */
export function stopped(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal === undefined) return;
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/**
 * `gatehouse auth-server --config FILE`: opens the stores, loads the key-encryption key, starts
 * the authorization server and the admin listener, prints where they are, and on SIGTERM/SIGINT
 * closes the listeners (in-flight requests finish), the key scheduler and the stores.
 */
export async function authServerCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, DEPLOYMENT_OPTIONS);
  const deployment = await loadDeployment(io, { config: values.config, dataDir: values['data-dir'] });
  enforceFindings(deployment, io);
  const kek = await loadDeploymentKek(io, deployment);
  if (kek.warning !== undefined) writeLine(io.stderr, `WARNING: ${kek.warning}`);

  const runtime = await openRuntime(io, deployment, { logTo: 'stdout' });
  let server: AuthServer | undefined;
  let admin: FastifyInstance | undefined;
  try {
    const deps: AuthServerDeps = {
      ...runtime.base,
      config: deployment.config.authServer,
      kek: kek.kek,
    };
    server = await createAuthServer(deps);
    const url = await server.listen();
    admin = createAdminApp({
      logger: runtime.logger,
      deps,
      operations: runtime.operations(server.services.keys),
      adminToken: deployment.config.admin.token,
    });
    await admin.listen({
      host: deployment.config.admin.listen.host,
      port: deployment.config.admin.listen.port,
    });
    const adminUrl = boundUrl(admin);
    runtime.logger.info(
      { issuer: deps.config.issuer, url, admin: adminUrl, kek: kek.source, dataDir: deployment.dataDir },
      'auth server started',
    );
    writeLine(io.stderr, `gatehouse auth-server: issuer ${deps.config.issuer}`);
    writeLine(io.stderr, `  listening on ${url}`);
    writeLine(io.stderr, `  admin API on ${adminUrl}/admin`);
    await stopped(io.signal);
    runtime.logger.info('shutting down');
  } finally {
    await shutdown(runtime, server, admin);
  }
  writeLine(io.stderr, 'gatehouse auth-server: stopped');
  return EXIT_OK;
}

async function shutdown(
  runtime: Runtime,
  server: AuthServer | undefined,
  admin: FastifyInstance | undefined,
): Promise<void> {
  const closing = await Promise.allSettled([admin?.close(), server?.close()]);
  await runtime.close();
  for (const result of closing) {
    if (result.status === 'rejected') runtime.logger.error({ err: result.reason as unknown }, 'close failed');
  }
}

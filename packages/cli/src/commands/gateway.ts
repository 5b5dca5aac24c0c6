import { dirname } from 'node:path';
import { buildAdminOperators, loadTlsServerOptions, type TlsReloader } from '@gatehouse/core';
import { createGateway, createGatewayAdminApp, type Gateway } from '@gatehouse/gateway';
import type { Kysely } from 'kysely';
import type { FastifyInstance } from 'fastify';
import { DEPLOYMENT_OPTIONS, parse } from '../args.js';
import { loadDeployment, type Deployment } from '../config/load-deployment.js';
import { CommandError, EXIT_OK, writeLine, type CliIo } from '../io.js';
import { openRuntime, type Runtime } from '../runtime/open-runtime.js';
import { secureFastifyServer } from '../runtime/tls-listener.js';
import { boundUrl, enforceFindings, stopped } from './auth-server.js';

function gatewaySection(deployment: Deployment): NonNullable<Deployment['config']['gateway']> {
  const config = deployment.config.gateway;
  if (config === undefined) throw new CommandError(`${deployment.file} has no gateway section`);
  return config;
}

/**
 * `gatehouse gateway --config FILE`: the gateway and its admin listener. SIGHUP (and the admin
 * API's reload) re-reads the file and swaps the configuration without dropping requests in
 * flight; SIGHUP also re-reads the certificate files of both listeners (which are watched too).
 * SIGTERM/SIGINT drain the listener and stop.
 */
export async function gatewayCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, DEPLOYMENT_OPTIONS);
  const options = { config: values.config, dataDir: values['data-dir'] };
  const deployment = await loadDeployment(io, options);
  enforceFindings(deployment, io);
  const config = gatewaySection(deployment);

  const runtime = await openRuntime(io, deployment, { logTo: 'stdout', component: 'gateway' });
  let gateway: Gateway | undefined;
  let admin: FastifyInstance | undefined;
  let adminCertificates: TlsReloader | undefined;
  let unsubscribe: (() => void) | undefined;
  const baseDir = dirname(deployment.file);
  try {
    gateway = await createGateway({
      config,
      baseDir,
      db: runtime.stores.db as unknown as Kysely<unknown>,
      state: runtime.stores.state,
      logger: runtime.logger,
      audit: runtime.audit.sink,
      redisUrl: deployment.redisUrl,
      redisPrefix: deployment.redisPrefix,
    });
    const running = gateway;
    const reload = async (): Promise<void> => {
      const next = await loadDeployment(io, options);
      await running.reload(gatewaySection(next));
    };
    const url = await gateway.listen();
    // The listeners are fixed at start (a reload changes routes and policies, not `listen`).
    const adminTls = config.admin.listen.tls;
    admin = createGatewayAdminApp({
      gateway,
      logger: runtime.logger,
      adminToken: deployment.config.admin.token,
      operators: buildAdminOperators(deployment.config.admin.operators),
      reload,
      audit: runtime.audit.sink,
      ...(adminTls === undefined ? {} : { https: loadTlsServerOptions(adminTls, baseDir) }),
    });
    if (adminTls !== undefined) {
      adminCertificates = secureFastifyServer(admin, adminTls, baseDir, {
        logger: runtime.logger,
        onReload: (info) => running.recordCertificate('admin', info),
      });
    }
    await admin.listen({ host: config.admin.listen.host, port: config.admin.listen.port });
    const certificates = adminCertificates;
    unsubscribe = io.onReload?.(() => {
      reload().catch((err: unknown) => {
        runtime.logger.error({ err }, 'reload refused: the configuration in force is unchanged');
      });
      // Each listener keeps its certificate and logs why when the new files are refused.
      void Promise.all([running.reloadCertificates(), certificates?.reload()]);
    });
    const adminUrl = boundUrl(admin);
    runtime.logger.info({ url, admin: adminUrl, routes: config.routes.length }, 'gateway started');
    writeLine(io.stderr, `gatehouse gateway: listening on ${url}`);
    writeLine(io.stderr, `  admin API on ${adminUrl}/admin/gateway, metrics on ${adminUrl}/metrics`);
    await stopped(io.signal);
    runtime.logger.info('shutting down');
  } finally {
    unsubscribe?.();
    adminCertificates?.close();
    await shutdown(runtime, gateway, admin);
  }
  writeLine(io.stderr, 'gatehouse gateway: stopped');
  return EXIT_OK;
}

async function shutdown(
  runtime: Runtime,
  gateway: Gateway | undefined,
  admin: FastifyInstance | undefined,
): Promise<void> {
  const closing = await Promise.allSettled([admin?.close(), gateway?.close()]);
  await runtime.close();
  for (const result of closing) {
    if (result.status === 'rejected') runtime.logger.error({ err: result.reason as unknown }, 'close failed');
  }
}

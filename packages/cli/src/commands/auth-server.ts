import { dirname, join } from 'node:path';
import { createSinks, registerSinkMetrics, verifyAuditLog, type SinkDelivery } from '@gatehouse/audit';
import {
  createAdminApp,
  createAuthServer,
  type AuthServer,
  type AuthServerDeps,
} from '@gatehouse/auth-server';
import { buildAdminOperators } from '@gatehouse/core';
import type { FastifyInstance } from 'fastify';
import { DEPLOYMENT_OPTIONS, parse } from '../args.js';
import { deploymentFindings } from '../config/deployment-checks.js';
import { loadDeployment, type Deployment } from '../config/load-deployment.js';
import { CommandError, EXIT_OK, writeLine, type CliIo } from '../io.js';
import {
  createCheckpointKeyResolver,
  startAuditCheckpoints,
  type AuditCheckpointer,
} from '../runtime/audit-checkpoints.js';
import { readSinkPositions, startAuditRetention, type AuditRetention } from '../runtime/audit-retention.js';
import { loadDeploymentKek } from '../runtime/kek.js';
import { openRuntime, type Runtime } from '../runtime/open-runtime.js';
import { listenOverTls, listenerUrl, type TlsAppListener } from '../runtime/tls-listener.js';

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

/** Where a Fastify app listens: `http://…`, or `https://…` for an app created with `https`. */
export function boundUrl(app: FastifyInstance): string {
  return listenerUrl(app.server);
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

  let sinks: SinkDelivery[] = [];
  const runtime = await openRuntime(io, deployment, {
    logTo: 'stdout',
    component: 'auth-server',
    onAuditShipped: () => {
      for (const sink of sinks) sink.wake();
    },
  });
  let checkpoints: AuditCheckpointer | undefined;
  let retention: AuditRetention | undefined;
  let server: AuthServer | undefined;
  let admin: FastifyInstance | undefined;
  let adminTls: TlsAppListener | undefined;
  let unsubscribe: (() => void) | undefined;
  try {
    const baseDir = dirname(deployment.file);
    const deps: AuthServerDeps = {
      ...runtime.base,
      config: deployment.config.authServer,
      kek: kek.kek,
      // Relative `listen.tls` and `mtls` file paths are relative to the configuration file.
      baseDir,
    };
    server = await createAuthServer(deps);
    const running = server;
    checkpoints = startAuditCheckpoints({
      store: runtime.auditStore,
      signer: server.services.keys,
      intervalSec: deployment.config.audit.checkpointIntervalSec,
      logger: runtime.logger,
    });
    sinks = await createSinks(deployment.config.audit.sinks, {
      source: runtime.auditStore,
      cursorDir: join(deployment.dataDir, 'audit-sinks'),
      baseDir,
      logger: runtime.logger,
    });
    const started = sinks;
    registerSinkMetrics(server.metrics, () => started);
    const retain = deployment.config.audit.retention;
    if (retain !== undefined) {
      retention = startAuditRetention({
        store: runtime.auditStore,
        signer: server.services.keys,
        maxAgeDays: retain.maxAgeDays,
        intervalSec: retain.intervalSec,
        sinkPositions: () => readSinkPositions(deployment.dataDir, deployment.config.audit.sinks),
        logger: runtime.logger,
      });
    }
    const url = await server.listen();
    admin = createAdminApp({
      logger: runtime.logger,
      deps,
      operations: runtime.operations(server.services.keys),
      adminToken: deployment.config.admin.token,
      operators: buildAdminOperators(deployment.config.admin.operators),
      metrics: server.metrics,
      ready: () => running.ready(),
      verifyAudit: () =>
        verifyAuditLog(runtime.stores.db, { resolveKey: createCheckpointKeyResolver(runtime.stores.db) }),
    });
    const { host, port, tls } = deployment.config.admin.listen;
    let adminUrl: string;
    if (tls === undefined) {
      await admin.listen({ host, port });
      adminUrl = boundUrl(admin);
    } else {
      adminTls = await listenOverTls(admin, { host, port }, tls, baseDir, {
        logger: runtime.logger,
        onReload: (info) => running.recordCertificate('admin', info),
      });
      adminUrl = adminTls.url;
    }
    const adminCertificates = adminTls?.certificates;
    // SIGHUP: both listeners re-read their certificate files (which are also watched); each
    // keeps its certificate in force and logs why when the new files are refused.
    unsubscribe = io.onReload?.(() => {
      void Promise.all([running.reloadTls(), adminCertificates?.reload()]);
    });
    runtime.logger.info(
      { issuer: deps.config.issuer, url, admin: adminUrl, kek: kek.source, dataDir: deployment.dataDir },
      'auth server started',
    );
    writeLine(io.stderr, `gatehouse auth-server: issuer ${deps.config.issuer}`);
    writeLine(io.stderr, `  listening on ${url}`);
    writeLine(io.stderr, `  admin API on ${adminUrl}/admin, metrics on ${adminUrl}/metrics`);
    await stopped(io.signal);
    runtime.logger.info('shutting down');
  } finally {
    unsubscribe?.();
    await adminTls?.close();
    await shutdown(runtime, server, admin, async () => {
      // Last events shipped, the head signed, then the sinks finish what they read.
      await retention?.stop();
      await runtime.audit.ship().catch(() => undefined);
      await checkpoints?.stop();
      await Promise.all(sinks.map((sink) => sink.stop('finish')));
    });
  }
  writeLine(io.stderr, 'gatehouse auth-server: stopped');
  return EXIT_OK;
}

async function shutdown(
  runtime: Runtime,
  server: AuthServer | undefined,
  admin: FastifyInstance | undefined,
  closeAudit: () => Promise<void>,
): Promise<void> {
  const closing = await Promise.allSettled([admin?.close(), server?.close()]);
  try {
    await closeAudit();
  } catch (err) {
    runtime.logger.error({ err }, 'audit shutdown failed');
  }
  await runtime.close();
  for (const result of closing) {
    if (result.status === 'rejected') runtime.logger.error({ err: result.reason as unknown }, 'close failed');
  }
}

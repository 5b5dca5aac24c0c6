import { dirname, join, resolve } from 'node:path';
import { buildBffConfig, createBff, type Bff } from '@gatehouse/bff';
import { DEPLOYMENT_OPTIONS, parse } from '../args.js';
import { loadDeployment, type Deployment } from '../config/load-deployment.js';
import { CommandError, EXIT_OK, writeLine, type CliIo } from '../io.js';
import { openStandaloneAudit } from '../runtime/component-audit.js';
import { createCliLogger } from '../runtime/open-runtime.js';
import { enforceFindings, stopped } from './auth-server.js';

function bffSection(deployment: Deployment): NonNullable<Deployment['config']['bff']> {
  const config = deployment.config.bff;
  if (config === undefined) throw new CommandError(`${deployment.file} has no bff section`);
  return config;
}

/**
 * `gatehouse bff --config FILE`: the Backend-for-Frontend, over HTTPS with `bff.listen.tls`. Sessions live in the SQLite file of the
 * `bff.session` section (default `<dataDir>/bff-sessions.db`, never memory: a session confirmed to
 * the user survives a restart), in PostgreSQL or in Redis when configured. SIGTERM/SIGINT stop it.
 */
export async function bffCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, DEPLOYMENT_OPTIONS);
  const deployment = await loadDeployment(io, { config: values.config, dataDir: values['data-dir'] });
  enforceFindings(deployment, io);
  const section = bffSection(deployment);
  const folder = dirname(deployment.file);
  const sqliteFile =
    section.session.sqliteFile === ':memory:'
      ? join(deployment.dataDir, 'bff-sessions.db')
      : resolve(folder, section.session.sqliteFile);
  const config = buildBffConfig({
    ...section,
    session: { ...section.session, sqliteFile },
    ...(section.staticDir === undefined ? {} : { staticDir: resolve(folder, section.staticDir) }),
  });

  const logger = createCliLogger(io, deployment, { logTo: 'stdout' });
  const audit = await openStandaloneAudit(deployment, 'bff', logger);
  let bff: Bff | undefined;
  let unsubscribe: (() => void) | undefined;
  try {
    bff = await createBff({
      config,
      logger,
      audit: audit.sink,
      production: deployment.production,
      // Relative `listen.tls` file paths are relative to the configuration file.
      baseDir: folder,
    });
    const running = bff;
    // SIGHUP re-reads the certificate files of `listen.tls` (they are also watched).
    unsubscribe = io.onReload?.(() => void running.reloadCertificates());
    const url = await bff.listen();
    logger.info({ url, publicUrl: config.publicUrl }, 'bff started');
    writeLine(io.stderr, `gatehouse bff: listening on ${url} (public URL ${config.publicUrl})`);
    await stopped(io.signal);
    logger.info('shutting down');
  } finally {
    unsubscribe?.();
    await bff?.close();
    await audit.close();
  }
  writeLine(io.stderr, 'gatehouse bff: stopped');
  return EXIT_OK;
}

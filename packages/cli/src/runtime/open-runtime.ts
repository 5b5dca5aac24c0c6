import { join } from 'node:path';
import { createLogger, type Logger } from '@gatehouse/core';
import {
  createAdminOperationsFor,
  openAuthServerStores,
  type AdminOperations,
  type AuthServerDeps,
  type AuthServerStores,
  type KeyService,
} from '@gatehouse/auth-server';
import type { Deployment } from '../config/load-deployment.js';
import type { CliIo } from '../io.js';
import { openFileAuditSink, type FileAuditSink } from './audit-file-sink.js';

export const AUDIT_FILE = 'audit.jsonl';

/** The stores, audit log and logger of one deployment, opened by a command. */
export interface Runtime {
  readonly deployment: Deployment;
  readonly stores: AuthServerStores;
  readonly audit: FileAuditSink;
  readonly logger: Logger;
  /** The dependencies every store needs (no key-encryption key). */
  readonly base: Pick<AuthServerDeps, 'db' | 'engine' | 'state' | 'now' | 'audit' | 'logger'>;
  /** Admin operations; with `keys`, the key operations too. */
  operations(keys?: KeyService): AdminOperations;
  close(): Promise<void>;
}

export interface OpenRuntimeOptions {
  /** Where log lines go: standard output for servers, standard error for commands. */
  readonly logTo: 'stdout' | 'stderr';
  /** Commands log only warnings unless the configuration asks for less. */
  readonly minimumLevel?: 'warn';
}

export function createCliLogger(io: CliIo, deployment: Deployment, options: OpenRuntimeOptions): Logger {
  const configured = deployment.config.log.level;
  const quiet = ['info', 'debug', 'trace'].includes(configured) && options.minimumLevel === 'warn';
  return createLogger({
    component: 'gatehouse',
    level: quiet ? 'warn' : configured,
    destination: options.logTo === 'stdout' ? io.stdout : io.stderr,
  });
}

export async function openRuntime(
  io: CliIo,
  deployment: Deployment,
  options: OpenRuntimeOptions,
): Promise<Runtime> {
  const logger = createCliLogger(io, deployment, options);
  const audit = await openFileAuditSink(join(deployment.dataDir, AUDIT_FILE));
  let stores: AuthServerStores;
  try {
    stores = await openAuthServerStores({
      databaseUrl: deployment.databaseUrl,
      sqliteFile: deployment.sqliteFile,
      redisUrl: deployment.redisUrl,
    });
  } catch (err) {
    await audit.close();
    throw err;
  }
  const base = {
    db: stores.db,
    engine: stores.engine,
    state: stores.state,
    now: Date.now,
    audit: audit.sink,
    logger,
  };
  return {
    deployment,
    stores,
    audit,
    logger,
    base,
    operations: (keys) => createAdminOperationsFor(base, keys),
    async close() {
      await stores.close();
      await audit.close();
    },
  };
}

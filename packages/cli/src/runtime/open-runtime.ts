import { createAuditStore, migrateAudit, type AuditStore } from '@gatehouse/audit';
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
import { loadAuditPseudonymizer } from './audit-pseudonymizer.js';
import { openComponentAudit, type ComponentAudit } from './component-audit.js';

/** The stores, audit log and logger of one deployment, opened by a command. */
export interface Runtime {
  readonly deployment: Deployment;
  readonly stores: AuthServerStores;
  /** This process's audit spool and its shipper to `auditStore`. */
  readonly audit: ComponentAudit;
  /** The deployment's audit store (same database as the other stores). */
  readonly auditStore: AuditStore;
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
  /** The audit spool's name (default `cli`). */
  readonly component?: string;
  /** After the shipper stored a batch (sinks wake up). */
  readonly onAuditShipped?: () => void;
}

/** Pending log text written at once beyond this size, without waiting for the end of the turn. */
const MAX_PENDING_CHARS = 64 * 1024;

interface BatchedDestination {
  write(text: string): void;
  /** Writes what is pending now (lines written later still reach the stream). */
  flush(): void;
}

/**
 * Log lines to a process stream, written once per event-loop turn instead of once per line: a
 * server's access log writes a line per request, and a write per line costs a system call on the
 * request path. What is pending is written when it grows large, on `flush()`, and when the process
 * exits (writes to stdout and stderr, files or pipes, are synchronous on Linux, so an exit handler
 * loses nothing; only a kill -9 loses the lines of the current turn).
 */
function createBatchedDestination(stream: { write(text: string): unknown }): BatchedDestination {
  let pending = '';
  let scheduled: NodeJS.Immediate | undefined;
  function flush(): void {
    if (scheduled !== undefined) clearImmediate(scheduled);
    scheduled = undefined;
    if (pending === '') return;
    const text = pending;
    pending = '';
    stream.write(text);
  }
  process.on('exit', flush);
  return {
    write(text) {
      pending += text;
      if (pending.length >= MAX_PENDING_CHARS) flush();
      else scheduled ??= setImmediate(flush);
    },
    flush,
  };
}

/** The logger of a command, and what flushes its destination when the command is done. */
function openCliLogger(
  io: CliIo,
  deployment: Deployment,
  options: OpenRuntimeOptions,
): { logger: Logger; flush: () => void } {
  const stream = options.logTo === 'stdout' ? io.stdout : io.stderr;
  // Only the process's own streams are batched: a test's captured output stays line by line.
  const batched =
    stream === process.stdout || stream === process.stderr ? createBatchedDestination(stream) : undefined;
  const configured = deployment.config.log.level;
  const quiet = ['info', 'debug', 'trace'].includes(configured) && options.minimumLevel === 'warn';
  const logger = createLogger({
    component: 'gatehouse',
    level: quiet ? 'warn' : configured,
    destination: batched ?? stream,
  });
  return { logger, flush: () => batched?.flush() };
}

export function createCliLogger(io: CliIo, deployment: Deployment, options: OpenRuntimeOptions): Logger {
  return openCliLogger(io, deployment, options).logger;
}

export async function openRuntime(
  io: CliIo,
  deployment: Deployment,
  options: OpenRuntimeOptions,
): Promise<Runtime> {
  const { logger, flush: flushLog } = openCliLogger(io, deployment, options);
  let stores: AuthServerStores;
  let audit: ComponentAudit;
  let auditStore: AuditStore;
  try {
    stores = await openAuthServerStores({
      databaseUrl: deployment.databaseUrl,
      sqliteFile: deployment.sqliteFile,
      redisUrl: deployment.redisUrl,
      redisPrefix: deployment.redisPrefix,
    });
  } catch (err) {
    flushLog();
    throw err;
  }
  try {
    await migrateAudit(stores.db);
    auditStore = createAuditStore(stores.db);
    const onShipped = options.onAuditShipped;
    const pseudonymizer = await loadAuditPseudonymizer(deployment, io.env, { create: true });
    audit = await openComponentAudit({
      dataDir: deployment.dataDir,
      component: options.component ?? 'cli',
      store: auditStore,
      logger,
      ...(pseudonymizer === undefined ? {} : { transform: (event) => pseudonymizer.apply(event) }),
      // Late-bound: the sinks are created after the runtime.
      onShipped: () => onShipped?.(),
    });
  } catch (err) {
    await stores.close();
    flushLog();
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
    auditStore,
    logger,
    base,
    operations: (keys) => createAdminOperationsFor(base, keys),
    async close() {
      try {
        // The spool is shipped before the database closes.
        await audit.close();
        await stores.close();
      } finally {
        flushLog();
      }
    },
  };
}

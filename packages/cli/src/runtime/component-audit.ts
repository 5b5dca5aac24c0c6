import { mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createAuditStore, migrateAudit, type AuditStore } from '@gatehouse/audit';
import { openSqlDatabase, type AuditEvent, type AuditSink, type Logger } from '@gatehouse/core';
import { createAuditShipper, type AuditShipper } from './audit-shipper.js';
import { lockSpool, openAuditSpool, unlockSpool, type AuditSpool } from './audit-spool.js';

/** The spool folder under the data dir. */
export const AUDIT_SPOOL_DIR = 'audit-spool';

/** The audit events of one process: spooled durably, shipped to the audit store. */
export interface ComponentAudit {
  readonly sink: AuditSink;
  /** Resolves once the event is synced to the spool (not yet necessarily in the store). */
  append(event: AuditEvent): Promise<void>;
  /** Resolves when every event handed over so far is synced to the spool. */
  flush(): Promise<void>;
  /** Ships what is spooled now; rejects while the store is unavailable. */
  ship(): Promise<void>;
  readonly spool: AuditSpool;
  readonly shipper: AuditShipper;
  /** Flushes, ships what it can (a store that is down leaves the spool for the next start), closes. */
  close(): Promise<void>;
}

export interface OpenComponentAuditOptions {
  readonly dataDir: string;
  /** The spool's name: `auth-server`, `gateway`, `bff`, `cli`. */
  readonly component: string;
  readonly store: Pick<AuditStore, 'append'>;
  readonly logger: Logger;
  readonly onShipped?: () => void;
  readonly truncateAtBytes?: number;
  /** Applied to every event before it is spooled (keyed pseudonymisation). */
  readonly transform?: (event: AuditEvent) => AuditEvent;
}

/**
 * Opens `<dataDir>/audit-spool/<component>.jsonl` (or `<component>-<pid>.jsonl` while another live
 * process holds the component's spool) and its shipper, and ships in the background (then removes)
 * the spools that processes gone without shipping left behind.
 */
export async function openComponentAudit(options: OpenComponentAuditOptions): Promise<ComponentAudit> {
  const dir = join(options.dataDir, AUDIT_SPOOL_DIR);
  const { spool, name } = await openLockedSpool(dir, options.component);
  const shipper = await createAuditShipper({
    spool,
    cursorFile: join(dir, `${name}.cursor`),
    store: options.store,
    logger: options.logger,
    ...(options.onShipped === undefined ? {} : { onShipped: options.onShipped }),
    ...(options.truncateAtBytes === undefined ? {} : { truncateAtBytes: options.truncateAtBytes }),
  });
  const adopting = adoptOrphans(dir, name, options).catch((err: unknown) => {
    options.logger.warn({ err }, 'left-over audit spools not shipped yet');
  });
  let closed = false;
  const transform = options.transform;
  const append =
    transform === undefined
      ? (event: AuditEvent) => spool.append(event)
      : (event: AuditEvent) => spool.append(transform(event));
  return {
    sink: transform === undefined ? spool.sink : append,
    append,
    flush: () => spool.flush(),
    ship: async () => {
      await spool.flush();
      await shipper.drain();
    },
    spool,
    shipper,
    async close() {
      if (closed) return;
      closed = true;
      await spool.flush();
      await shipper.stop();
      try {
        await shipper.drain();
      } catch (err) {
        options.logger.warn(
          { err, spool: spool.file },
          'audit store unavailable at shutdown; events stay in the spool',
        );
      }
      await adopting;
      await spool.close();
      await unlockSpool(dir, name);
    },
  };
}

async function openLockedSpool(dir: string, component: string): Promise<{ spool: AuditSpool; name: string }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const name = (await lockSpool(dir, component)) ? component : `${component}-${process.pid}`;
  if (name !== component && !(await lockSpool(dir, name))) {
    throw new Error(`audit spool ${name} is locked by another process`);
  }
  return { spool: await openAuditSpool(dir, name), name };
}

/**
 * Ships and removes the spools of processes that are gone (their lock is stale): a component that
 * died and was not restarted, or a second process's `<component>-<pid>` spool.
 */
async function adoptOrphans(dir: string, own: string, options: OpenComponentAuditOptions): Promise<void> {
  const names = (await readdir(dir))
    .filter((file) => file.endsWith('.jsonl'))
    .map((file) => file.slice(0, -'.jsonl'.length))
    .filter((name) => name !== own);
  for (const name of names) {
    if (!(await lockSpool(dir, name))) continue;
    const spool = await openAuditSpool(dir, name);
    const cursorFile = join(dir, `${name}.cursor`);
    const shipper = await createAuditShipper({
      spool,
      cursorFile,
      store: options.store,
      logger: options.logger,
      pollIntervalMs: 60_000,
    });
    try {
      await shipper.drain();
      await shipper.stop();
      await spool.close();
      await unlink(spool.file);
      await unlink(cursorFile).catch(() => undefined);
    } catch (err) {
      await shipper.stop();
      await spool.close();
      throw err;
    } finally {
      await unlockSpool(dir, name);
    }
  }
}

/**
 * For a process without the auth-server stores (the BFF): its own connection to the deployment's
 * database for the audit store, closed with the spool.
 */
export async function openStandaloneAudit(
  deployment: {
    readonly dataDir: string;
    readonly databaseUrl: string | undefined;
    readonly sqliteFile: string;
  },
  component: string,
  logger: Logger,
): Promise<ComponentAudit> {
  const sql = openSqlDatabase({ url: deployment.databaseUrl, sqliteFile: deployment.sqliteFile });
  try {
    await migrateAudit(sql.db);
    const audit = await openComponentAudit({
      dataDir: deployment.dataDir,
      component,
      store: createAuditStore(sql.db),
      logger,
    });
    return {
      ...audit,
      async close() {
        try {
          await audit.close();
        } finally {
          await sql.close();
        }
      },
    };
  } catch (err) {
    await sql.close();
    throw err;
  }
}

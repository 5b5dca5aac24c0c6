import { exportAuditLog, verifyAuditLog } from '@gatehouse/audit';
import type { AuthServerStores } from '@gatehouse/auth-server';
import { openSqlDatabase } from '@gatehouse/core';
import type { Kysely } from 'kysely';
import { DEPLOYMENT_OPTIONS, JSON_OPTION, parse } from '../args.js';
import { loadDeployment, type Deployment } from '../config/load-deployment.js';
import { CommandError, EXIT_FAILURE, EXIT_OK, UsageError, writeJson, writeLine, type CliIo } from '../io.js';
import { createCheckpointKeyResolver } from '../runtime/audit-checkpoints.js';
import { subcommands } from './subcommands.js';

/** `gatehouse audit verify|export`: reads the deployment's audit store (no server, nothing shipped). */
export const auditCommand = subcommands('audit', { verify, export: exportCommand });

/**
 * Opens the deployment's database for reading the audit store only: no migration, no spool, so
 * what is checked is what the store holds now.
 */
export async function withAuditDatabase<T>(
  deployment: Deployment,
  fn: (db: AuthServerStores['db']) => Promise<T>,
): Promise<T> {
  const sql = openSqlDatabase<unknown>({
    url: deployment.databaseUrl,
    sqliteFile: deployment.sqliteFile,
  });
  const db = sql.db as unknown as AuthServerStores['db'];
  try {
    if (!(await hasAuditStore(db)))
      throw new CommandError(
        `no audit store in ${deployment.databaseUrl === undefined ? deployment.sqliteFile : 'the database'} yet (a component creates it when it starts)`,
      );
    return await fn(db);
  } finally {
    await sql.close();
  }
}

/** Whether the database holds the audit store (its table exists): reading never creates it. */
export async function hasAuditStore(db: AuthServerStores['db']): Promise<boolean> {
  try {
    await (db as unknown as Kysely<unknown>)
      .selectFrom('audit_log' as never)
      .selectAll()
      .limit(1)
      .execute();
    return true;
  } catch {
    return false;
  }
}

/** ISO 8601 with an offset (`Z` or `±hh:mm`), as the store takes it. */
export function isoOption(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) ||
    Number.isNaN(Date.parse(value))
  ) {
    throw new UsageError(`${name} must be an ISO 8601 time with an offset, e.g. 2026-01-01T00:00:00Z`);
  }
  return value;
}

async function verify(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { ...DEPLOYMENT_OPTIONS, ...JSON_OPTION });
  const deployment = await loadDeployment(io, { config: values.config, dataDir: values['data-dir'] });
  const result = await withAuditDatabase(deployment, (db) =>
    verifyAuditLog(db, { resolveKey: createCheckpointKeyResolver(db) }),
  );
  if (values.json === true) writeJson(io, result);
  else if (result.ok) {
    writeLine(io.stdout, `ok, ${result.checked} records, ${result.checkpoints} checkpoints`);
  } else {
    const problem = result.firstProblem;
    writeLine(
      io.stdout,
      problem === undefined
        ? `FAILED after ${result.checked} records`
        : `FAILED at seq ${problem.seq}: ${problem.kind}: ${problem.detail}`,
    );
  }
  return result.ok ? EXIT_OK : EXIT_FAILURE;
}

async function exportCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, {
    ...DEPLOYMENT_OPTIONS,
    from: { type: 'string' },
    to: { type: 'string' },
  });
  const from = isoOption('--from', values.from);
  const to = isoOption('--to', values.to);
  const deployment = await loadDeployment(io, { config: values.config, dataDir: values['data-dir'] });
  await withAuditDatabase(deployment, async (db) => {
    const options = { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) };
    let pending = '';
    for await (const doc of exportAuditLog(db, options)) {
      pending += `${JSON.stringify(doc)}\n`;
      if (pending.length >= 64 * 1024) {
        io.stdout.write(pending);
        pending = '';
      }
    }
    if (pending !== '') io.stdout.write(pending);
  });
  return EXIT_OK;
}

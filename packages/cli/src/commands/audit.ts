import {
  createAuditStore,
  exportAuditLog,
  isAuditStoreError,
  verifyAuditLog,
  type AuditCheckpoint,
} from '@gatehouse/audit';
import { createAuthServer, type AuthServerStores } from '@gatehouse/auth-server';
import { openSqlDatabase } from '@gatehouse/core';
import type { Kysely } from 'kysely';
import { DEPLOYMENT_OPTIONS, JSON_OPTION, parse } from '../args.js';
import { loadDeployment, type Deployment } from '../config/load-deployment.js';
import { CommandError, EXIT_FAILURE, EXIT_OK, UsageError, writeJson, writeLine, type CliIo } from '../io.js';
import { createCheckpointKeyResolver } from '../runtime/audit-checkpoints.js';
import {
  CLI_PRUNE_ACTOR,
  DAY_MS,
  planAuditPrune,
  pruneAuditLog,
  readSinkPositions,
  type AuditPruneOutcome,
  type AuditPrunePlan,
} from '../runtime/audit-retention.js';
import { loadDeploymentKek } from '../runtime/kek.js';
import { withRuntime } from './common.js';
import { subcommands } from './subcommands.js';

/**
 * `gatehouse audit verify|export|prune`: verify and export read the deployment's audit store (no
 * server, nothing shipped); prune removes old records behind a signed checkpoint.
 */
export const auditCommand = subcommands('audit', { verify, export: exportCommand, prune });

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

/** `--before`: `90d` (days before now), a date (`2026-01-01`, midnight UTC) or an ISO 8601 time with an offset. */
export function parseCutoff(value: string | undefined, now: number): number {
  if (value === undefined || value === '')
    throw new UsageError('--before is required (e.g. 90d or 2026-01-01)');
  const days = /^([0-9]{1,5})d$/.exec(value)?.[1];
  let cutoff = Number.NaN;
  if (days !== undefined) cutoff = now - Number(days) * DAY_MS;
  else if (/^\d{4}-\d{2}-\d{2}$/.test(value)) cutoff = Date.parse(`${value}T00:00:00Z`);
  else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value))
    cutoff = Date.parse(value);
  if (Number.isNaN(cutoff)) {
    throw new UsageError(
      '--before must be a number of days (90d), a date (2026-01-01, UTC) or an ISO 8601 time with an offset',
    );
  }
  if (cutoff > now) throw new UsageError('--before is in the future');
  return cutoff;
}

const isoSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function checkpointJson(checkpoint: AuditCheckpoint | undefined): Record<string, unknown> | undefined {
  return checkpoint === undefined
    ? undefined
    : { seq: checkpoint.seq, kid: checkpoint.kid, createdAt: new Date(checkpoint.createdAt).toISOString() };
}

/**
 * `gatehouse audit prune --before 90d|DATE [--dry-run] [--yes] [--json]`: removes the records written
 * before the cut-off, through the newest signed checkpoint before it, and records the pruning in the
 * chain (`audit.prune`, actor `cli`) under a new checkpoint signed with the auth server's key. Records
 * are deleted for good, so it needs `--yes` (like every destructive command here, it never prompts:
 * it must run the same from a terminal and from a script); `--dry-run` only reads.
 */
async function prune(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, {
    ...DEPLOYMENT_OPTIONS,
    ...JSON_OPTION,
    before: { type: 'string' },
    'dry-run': { type: 'boolean' },
    yes: { type: 'boolean' },
  });
  const dryRun = values['dry-run'] === true;
  const cutoff = parseCutoff(values.before, Date.now());
  if (!dryRun && values.yes !== true) {
    throw new UsageError(
      'audit prune deletes records: pass --yes (or --dry-run to see what it would remove)',
    );
  }
  const deployment = await loadDeployment(io, { config: values.config, dataDir: values['data-dir'] });
  const sinks = await readSinkPositions(deployment.dataDir, deployment.config.audit.sinks);
  let plan: AuditPrunePlan;
  let outcome: AuditPruneOutcome | undefined;
  if (dryRun) {
    plan = await withAuditDatabase(deployment, (db) => planAuditPrune(createAuditStore(db), cutoff, sinks));
  } else {
    // Checkpoints are signed with the auth server's active key, exactly as a server instance does.
    const { kek, warning } = await loadDeploymentKek(io, deployment);
    if (warning !== undefined) writeLine(io.stderr, `WARNING: ${warning}`);
    [plan, outcome] = await withRuntime(io, deployment, async (runtime) => {
      const store = runtime.auditStore;
      const planned = await planAuditPrune(store, cutoff, sinks);
      if (planned.hold !== undefined) return [planned, undefined] as const;
      const server = await createAuthServer({ ...runtime.base, config: deployment.config.authServer, kek });
      try {
        return [planned, await pruneAuditLog(store, server.services.keys, planned, CLI_PRUNE_ACTOR)] as const;
      } catch (err) {
        if (isAuditStoreError(err) && err.code === 'ERR_AUDIT_PRUNE_REFUSED') {
          throw new CommandError(
            `pruning refused (${err.code}): ${err.detail ?? err.message}; gatehouse audit verify names the problem`,
          );
        }
        throw err;
      } finally {
        await server.close();
      }
    });
  }
  const held = plan.hold?.reason === 'sink_behind';
  if (values.json === true) {
    writeJson(io, {
      dryRun,
      before: new Date(cutoff).toISOString(),
      firstSeq: plan.firstSeq ?? null,
      throughSeq: plan.hold === undefined ? (plan.checkpoint?.seq ?? null) : null,
      rows: plan.rows,
      pruned: outcome?.pruned ?? 0,
      ...(plan.checkpoint === undefined ? {} : { checkpoint: checkpointJson(plan.checkpoint) }),
      ...(outcome?.event === undefined ? {} : { record: outcome.event }),
      ...(outcome?.checkpoint === undefined ? {} : { signed: checkpointJson(outcome.checkpoint) }),
      ...(outcome?.prunedElsewhere === true ? { prunedElsewhere: true } : {}),
      ...(plan.hold === undefined ? {} : { reason: plan.hold.reason, detail: plan.hold.detail }),
    });
    return held ? EXIT_FAILURE : EXIT_OK;
  }
  const before = isoSeconds(cutoff);
  const checkpoint = plan.checkpoint;
  if (plan.hold !== undefined || checkpoint === undefined || plan.firstSeq === undefined) {
    writeLine(io.stdout, `Nothing to prune before ${before}: ${plan.hold?.detail ?? 'no checkpoint'}.`);
    return held ? EXIT_FAILURE : EXIT_OK;
  }
  const range = `${plan.rows} record(s), seq ${plan.firstSeq} to ${checkpoint.seq}`;
  const anchor =
    `through the checkpoint at seq ${checkpoint.seq} (signed ${isoSeconds(checkpoint.createdAt)} by ${checkpoint.kid}), ` +
    `the newest over a record written before ${before}`;
  if (dryRun) {
    writeLine(io.stdout, `Would prune ${range}, ${anchor}.`);
    writeLine(io.stdout, '  Dry run: nothing removed.');
    return EXIT_OK;
  }
  if (outcome === undefined || outcome.prunedElsewhere) {
    writeLine(io.stdout, `Nothing pruned: another process pruned through seq ${checkpoint.seq} meanwhile.`);
    return EXIT_OK;
  }
  writeLine(
    io.stdout,
    `Pruned ${outcome.pruned} record(s), seq ${plan.firstSeq} to ${checkpoint.seq}, ${anchor}.`,
  );
  if (outcome.event !== undefined) {
    writeLine(
      io.stdout,
      `  Recorded as audit.prune at seq ${outcome.event.seq}` +
        (outcome.checkpoint === undefined
          ? '.'
          : `, signed in the checkpoint at seq ${outcome.checkpoint.seq} (${outcome.checkpoint.kid}).`),
    );
  }
  return EXIT_OK;
}

import { dirname, join, resolve } from 'node:path';
import { AUDIT_COMPONENT, auditMigrations } from '@gatehouse/audit';
import { authServerMigrations } from '@gatehouse/auth-server';
import { BFF_MIGRATIONS } from '@gatehouse/bff';
import {
  REVOCATION_FEED_COMPONENT,
  openSqlDatabase,
  revocationFeedMigrations,
  runMigrations,
  type MigrationRun,
  type MigrationSet,
  type SqlDatabaseOptions,
} from '@gatehouse/core';
import { GATEWAY_COMPONENT, gatewayMigrations } from '@gatehouse/gateway';
import { DEPLOYMENT_OPTIONS, JSON_OPTION, parse } from '../args.js';
import { loadDeployment, type Deployment } from '../config/load-deployment.js';
import { EXIT_OK, writeJson, writeLine, type CliIo } from '../io.js';
import type { Subcommand } from './subcommands.js';

/** Where a set's tables live: the deployment's database, or the BFF's session store (`bff.session`). */
export type MigrationStore = 'deployment' | 'bff-sessions';

export interface RegisteredMigrationSet extends MigrationSet {
  readonly store: MigrationStore;
}

/**
 * Every component's migrations, the one list `gatehouse migrate` runs and test/migrations checks
 * (catalog diff per migration, concurrent starts). A new set is registered here; that suite fails
 * on a source file that runs `migrateToLatest` for a component missing from this list.
 */
export const MIGRATION_SETS: readonly RegisteredMigrationSet[] = [
  { component: 'auth_server', migrations: authServerMigrations, store: 'deployment' },
  { component: REVOCATION_FEED_COMPONENT, migrations: revocationFeedMigrations, store: 'deployment' },
  { component: GATEWAY_COMPONENT, migrations: gatewayMigrations, store: 'deployment' },
  { component: AUDIT_COMPONENT, migrations: auditMigrations, store: 'deployment' },
  { component: 'bff', migrations: BFF_MIGRATIONS, store: 'bff-sessions' },
];

/** One set's outcome: what ran and what waits, or why the set was not run. */
type SetReport =
  | ({ readonly component: string; readonly store: MigrationStore } & MigrationRun)
  | { readonly component: string; readonly store: MigrationStore; readonly skipped: string };

/**
 * The BFF's session store as `gatehouse bff` opens it (a `:memory:` file becomes
 * `<dataDir>/bff-sessions.db`, as there), or why there is none to migrate.
 */
function bffSessionStore(deployment: Deployment): SqlDatabaseOptions | string {
  const section = deployment.config.bff;
  if (section === undefined) return 'no bff section';
  const { session } = section;
  if (session.redisUrl !== undefined) return 'sessions in Redis';
  if (session.databaseUrl !== undefined) return { url: session.databaseUrl };
  return {
    sqliteFile:
      session.sqliteFile === ':memory:'
        ? join(deployment.dataDir, 'bff-sessions.db')
        : resolve(dirname(deployment.file), session.sqliteFile),
  };
}

/**
 * `gatehouse migrate [--contract]`: every registered set on the deployment's stores. Expand
 * migrations apply (each component also applies them at start); contract migrations wait unless
 * `--contract` says every instance runs this version (docs/upgrades.md).
 */
export function createMigrateCommand(sets: readonly RegisteredMigrationSet[]): Subcommand {
  return async (args, io) => {
    const { values } = parse(args, { ...DEPLOYMENT_OPTIONS, ...JSON_OPTION, contract: { type: 'boolean' } });
    const deployment = await loadDeployment(io, { config: values.config, dataDir: values['data-dir'] });
    const contract = values.contract === true;
    const stores: Record<MigrationStore, SqlDatabaseOptions | string> = {
      deployment: { url: deployment.databaseUrl, sqliteFile: deployment.sqliteFile },
      'bff-sessions': bffSessionStore(deployment),
    };
    const reports: SetReport[] = [];
    for (const store of ['deployment', 'bff-sessions'] as const) {
      const target = stores[store];
      const here = sets.filter((set) => set.store === store);
      if (here.length === 0) continue;
      if (typeof target === 'string') {
        reports.push(...here.map(({ component }) => ({ component, store, skipped: target })));
        continue;
      }
      const database = openSqlDatabase<unknown>(target);
      try {
        for (const { component, migrations } of here) {
          const run = await runMigrations(database.db, component, migrations, { contract });
          reports.push({ component, store, ...run });
        }
      } finally {
        await database.close();
      }
    }
    if (values.json === true) writeJson(io, { contract, components: reports });
    else writeReports(io, reports);
    return EXIT_OK;
  };
}

function writeReports(io: CliIo, reports: readonly SetReport[]): void {
  let waiting = false;
  for (const report of reports) {
    if ('skipped' in report) {
      writeLine(io.stdout, `${report.component}: skipped (${report.skipped})`);
      continue;
    }
    const parts = [report.applied.length === 0 ? 'up to date' : `applied ${report.applied.join(', ')}`];
    if (report.heldBack.length > 0) parts.push(`held back (contract): ${report.heldBack.join(', ')}`);
    if (report.newer.length > 0) parts.push(`schema ahead of this version: ${report.newer.join(', ')}`);
    waiting ||= report.heldBack.length > 0;
    writeLine(io.stdout, `${report.component}: ${parts.join('; ')}`);
  }
  if (waiting) {
    writeLine(
      io.stdout,
      'contract migrations wait: run `gatehouse migrate --contract` once every instance runs this version',
    );
  }
}

export const migrateCommand = createMigrateCommand(MIGRATION_SETS);

import {
  Migrator,
  PostgresAdapter,
  SqliteAdapter,
  sql,
  type Kysely,
  type Migration,
  type MigrationResultSet,
} from 'kysely';
import { GatehouseError } from '../errors/gatehouse-error.js';
import { createLogger, type Logger } from '../log/create-logger.js';
import { migrationHistoryTable, type PhasedMigration } from './migration-phase.js';
import { planMigrations } from './plan-migrations.js';

export interface MigrateOptions {
  /**
   * Applies contract migrations too: the operator says every instance runs this version
   * (`gatehouse migrate --contract`). Without it they wait, unless the database is fresh.
   */
  readonly contract?: boolean;
  /** Where held-back and version-skew warnings go (a `Logger`; default: one on standard error). */
  readonly logger?: { warn(details: object, message: string): void };
}

export interface MigrationRun {
  /** Applied by this run, in order. */
  readonly applied: readonly string[];
  /** Contract migrations not applied: they wait for `gatehouse migrate --contract`. */
  readonly heldBack: readonly string[];
  /** Applied by a newer version and unknown here (this instance runs as the previous version). */
  readonly newer: readonly string[];
}

/** One try of a run: an error (with the refusal's reason), or what was done. */
interface Attempt {
  readonly error?: unknown;
  readonly refused?: string;
  readonly run?: MigrationRun;
}

/**
 * Runs a component's migrations (in name order) to the latest, contract migrations held back (see
 * `runMigrations`), and logs what waits. Each component keeps its own history table, so components
 * migrate independently. Resolves the names applied by this run.
 */
export async function migrateToLatest(
  db: Kysely<unknown>,
  component: string,
  migrations: Readonly<Record<string, PhasedMigration>>,
  options: MigrateOptions = {},
): Promise<readonly string[]> {
  const run = await runMigrations(db, component, migrations, options);
  const logger: NonNullable<MigrateOptions['logger']> = options.logger ?? defaultLogger();
  if (run.heldBack.length > 0) {
    logger.warn(
      { migrations: component, heldBack: run.heldBack },
      'contract migrations held back: run `gatehouse migrate --contract` once every instance runs this version',
    );
  }
  if (run.newer.length > 0) {
    logger.warn(
      { migrations: component, newer: run.newer },
      'the schema is ahead of this version (a newer version migrated it); running as the previous version',
    );
  }
  return run.applied;
}

let fallbackLogger: Logger | undefined;

/** Standard error: a command's standard output may be a `--json` document. */
function defaultLogger(): Logger {
  fallbackLogger ??= createLogger({ component: 'gatehouse', destination: process.stderr });
  return fallbackLogger;
}

/**
 * One migration run under the migration lock: the history is read, the plan made
 * (`planMigrations`), and the pending migrations applied in one transaction. PostgreSQL serialises
 * runs with an advisory lock taken before the history is read; SQLite with one `BEGIN IMMEDIATE`
 * transaction per run (below). So instances starting together, and `gatehouse migrate`, apply each
 * migration once, and every run decides on the history it then extends.
 */
export async function runMigrations(
  db: Kysely<unknown>,
  component: string,
  migrations: Readonly<Record<string, PhasedMigration>>,
  options: Pick<MigrateOptions, 'contract'> = {},
): Promise<MigrationRun> {
  const table = migrationHistoryTable(component);
  const { adapter } = db.getExecutor();
  // kysely finds its history tables by name in ANY schema unless told which: a same-named table in
  // another schema of the database (another deployment) hid a missing one in ours ("relation does
  // not exist"). Pin them to the schema the migrations themselves create tables in.
  const schema =
    adapter instanceof PostgresAdapter
      ? ((await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db)).rows[0]
          ?.schema ?? undefined)
      : undefined;
  const once = async (conn: Kysely<unknown>): Promise<Attempt> => {
    let history: Awaited<ReturnType<typeof readHistory>>;
    try {
      history = await readHistory(conn, table, schema);
    } catch (error) {
      return { error };
    }
    const plan = planMigrations({ migrations, ...history, contract: options.contract === true });
    if ('refused' in plan) return { error: new Error(plan.refused), refused: plan.refused };
    const provided: Record<string, Migration> = {};
    // kysely refuses a history naming migrations it is not given: a newer version's are applied
    // already, so they never run here.
    for (const name of plan.newer) provided[name] = { up: alreadyApplied };
    for (const [name, migration] of Object.entries(migrations)) {
      if (plan.heldBack.includes(name)) continue;
      provided[name] = migration.phase === 'contract' ? recorded(name, migration, table, schema) : migration;
    }
    const migrator = new Migrator({
      db: conn,
      provider: { getMigrations: () => Promise.resolve(provided) },
      migrationTableName: table,
      migrationLockTableName: `${table}_lock`,
      // The order is checked by planMigrations: a held-back contract migration runs after later ones.
      allowUnorderedMigrations: true,
      ...(schema === undefined ? {} : { migrationTableSchema: schema }),
    });
    const { error, results = [] }: MigrationResultSet = await migrator.migrateToLatest();
    const applied = results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
    return { error, run: { applied, heldBack: plan.heldBack, newer: plan.newer } };
  };
  const attempt = (): Promise<Attempt> =>
    adapter instanceof SqliteAdapter
      ? inSqliteTransaction(db, () => once(db))
      : withPostgresLock(db, `gatehouse-migrations:${[schema, table].join('.')}`, once);
  let outcome = await attempt();
  // kysely looks for its history table with a catalog scan over every schema, which fails when
  // another schema, table or column is dropped during the scan (see CATALOG_RACES). Nothing was
  // applied then (one transaction), so the run is repeated.
  for (let tries = 1; tries < 3 && isCatalogRace(outcome.error); tries++) outcome = await attempt();
  if (outcome.error !== undefined || outcome.run === undefined) {
    throw new GatehouseError('ERR_STORE_MIGRATION_FAILED', {
      detail:
        outcome.refused === undefined
          ? `${component} migrations`
          : `${component} migrations: ${outcome.refused}`,
      cause: outcome.error,
    });
  }
  return outcome.run;
}

// Stands for a newer version's migration, already applied: kysely runs only the migrations missing
// from the history, so it is never called (defensive: were it called, refusing is the safe answer).
/* v8 ignore start */
function alreadyApplied(): Promise<void> {
  return Promise.reject(new Error("a newer version's migration cannot run here"));
}
/* v8 ignore stop */

/**
 * What a catalog scan meets when other DDL runs beside it (PostgreSQL error codes): a schema
 * dropped (3F000), a table dropped (42P01), or a column dropped under `pg_get_serial_sequence`
 * (42703: "column … of relation … does not exist").
 */
const CATALOG_RACES: ReadonlySet<unknown> = new Set(['3F000', '42P01', '42703']);

function isCatalogRace(error: unknown): boolean {
  return CATALOG_RACES.has((error as { code?: unknown } | undefined)?.code);
}

/** A table of the migrations' schema (PostgreSQL: pinned; SQLite: the main database). */
function tableRef(schema: string | undefined, table: string): ReturnType<typeof sql.id> {
  return schema === undefined ? sql.id(table) : sql.id(schema, table);
}

/**
 * The applied migrations, and which of them were contract migrations (`<table>_contract`, written
 * by `recorded`): an older version reads it to refuse a schema contracted past what it knows.
 */
async function readHistory(
  db: Kysely<unknown>,
  table: string,
  schema: string | undefined,
): Promise<{ applied: string[]; contracted: string[] }> {
  const contractTable = `${table}_contract`;
  const candidates = [table, contractTable];
  const { rows } =
    db.getExecutor().adapter instanceof SqliteAdapter
      ? await sql<{ name: string }>`select name from sqlite_master
          where type = 'table' and name in (${sql.join(candidates)})`.execute(db)
      : await sql<{ name: string }>`select table_name as name from information_schema.tables
          where table_schema = current_schema() and table_name in (${sql.join(candidates)})`.execute(db);
  const names = async (name: string): Promise<string[]> => {
    if (!rows.some((row) => row.name === name)) return [];
    const result = await sql<{ name: string }>`select name from ${tableRef(schema, name)}`.execute(db);
    return result.rows.map((row) => row.name);
  };
  return { applied: await names(table), contracted: await names(contractTable) };
}

/** A contract migration that records itself in `<table>_contract`, in the run's transaction. */
function recorded(name: string, migration: Migration, table: string, schema: string | undefined): Migration {
  const contractTable = `${table}_contract`;
  return {
    async up(trx: Kysely<unknown>): Promise<void> {
      await migration.up(trx);
      await (schema === undefined ? trx.schema : trx.schema.withSchema(schema))
        .createTable(contractTable)
        .ifNotExists()
        .addColumn('name', 'varchar(255)', (c) => c.primaryKey())
        .execute();
      await sql`insert into ${tableRef(schema, contractTable)} (name) values (${name})`.execute(trx);
    },
  };
}

/**
 * Runs `fn` on one connection holding a session-level advisory lock on `name` (one history table),
 * taken before the history is read: a run that decided what to apply (or to hold back) applies
 * exactly that. kysely's migrator then takes its own, database-wide lock on the same connection
 * inside `fn`; every Gatehouse run takes the two in this order, so they never deadlock.
 */
async function withPostgresLock<T>(
  db: Kysely<unknown>,
  name: string,
  fn: (conn: Kysely<unknown>) => Promise<T>,
): Promise<T> {
  return db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(hashtext(${name}))`.execute(conn);
    try {
      return await fn(conn);
    } finally {
      await sql`select pg_advisory_unlock(hashtext(${name}))`.execute(conn);
    }
  });
}

// Runs in flight per SQLite file in this process.
const sqliteRuns = new Map<string, Promise<Attempt>>();

/**
 * kysely runs SQLite migrations with no transaction and no lock, so a failing migration left the
 * earlier ones (and its own DDL) applied, and two handles on one file ran a migration twice.
 * SQLite DDL is transactional: one `BEGIN IMMEDIATE` takes the write lock up front, which other
 * processes wait for (busy_timeout). Runs on the same file in this process queue instead, since
 * better-sqlite3 would wait for the lock synchronously, blocking the event loop its holder needs.
 * (kysely's SQLite driver has one connection, so the migrator's queries run in this transaction.)
 */
async function inSqliteTransaction(db: Kysely<unknown>, run: () => Promise<Attempt>): Promise<Attempt> {
  const { rows } = await sql<{
    file: string;
  }>`select file from pragma_database_list where name = 'main'`.execute(db);
  const file = rows[0]?.file ?? '';
  const step = async (): Promise<Attempt> => {
    try {
      await sql`begin immediate`.execute(db);
    } catch (error) {
      return { error };
    }
    const outcome = await run();
    await sql.raw(outcome.error === undefined ? 'commit' : 'rollback').execute(db);
    return outcome;
  };
  const current = (sqliteRuns.get(file) ?? Promise.resolve({})).then(step, step);
  sqliteRuns.set(file, current);
  try {
    return await current;
  } finally {
    if (sqliteRuns.get(file) === current) sqliteRuns.delete(file);
  }
}

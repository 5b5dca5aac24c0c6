import {
  Migrator,
  PostgresAdapter,
  SqliteAdapter,
  sql,
  type Kysely,
  type Migration,
  type MigrationProvider,
  type MigrationResultSet,
} from 'kysely';
import { GatehouseError } from '../errors/gatehouse-error.js';

/**
 * Runs a component's migrations (in name order) to the latest. Each component keeps its own
 * history table, so components migrate independently. PostgreSQL serialises concurrent runs with
 * an advisory lock and every run is one transaction, so instances starting together migrate once.
 * SQLite gets the same guarantees from one `BEGIN IMMEDIATE` transaction per run (below).
 */
export async function migrateToLatest(
  db: Kysely<unknown>,
  component: string,
  migrations: Readonly<Record<string, Migration>>,
): Promise<readonly string[]> {
  const provider: MigrationProvider = { getMigrations: () => Promise.resolve({ ...migrations }) };
  const table = `${component.replace(/[^a-z0-9]/gi, '_')}_migrations`;
  const { adapter } = db.getExecutor();
  // kysely finds its history tables by name in ANY schema unless told which: a same-named table in
  // another schema of the database (another deployment) hid a missing one in ours ("relation does
  // not exist"). Pin them to the schema the migrations themselves create tables in.
  const schema =
    adapter instanceof PostgresAdapter
      ? (await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db)).rows[0]?.schema
      : undefined;
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: table,
    migrationLockTableName: `${table}_lock`,
    ...(typeof schema === 'string' ? { migrationTableSchema: schema } : {}),
  });
  const run = (): Promise<MigrationResultSet> =>
    adapter instanceof SqliteAdapter
      ? inSqliteTransaction(db, () => migrator.migrateToLatest())
      : migrator.migrateToLatest();
  let outcome = await run();
  // kysely looks for its history table with a catalog scan over every schema, which fails with
  // 3F000 ("schema does not exist") if another schema is dropped during the scan. Nothing was
  // applied then (one transaction), so the run is repeated.
  for (let attempt = 1; attempt < 3 && isSchemaVanished(outcome.error); attempt++) outcome = await run();
  const { error, results = [] } = outcome;
  if (error !== undefined) {
    throw new GatehouseError('ERR_STORE_MIGRATION_FAILED', {
      detail: `${component} migrations`,
      cause: error,
    });
  }
  return results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

function isSchemaVanished(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === '3F000';
}

// Runs in flight per SQLite file in this process.
const sqliteRuns = new Map<string, Promise<MigrationResultSet>>();

/**
 * kysely runs SQLite migrations with no transaction and no lock, so a failing migration left the
 * earlier ones (and its own DDL) applied, and two handles on one file ran a migration twice.
 * SQLite DDL is transactional: one `BEGIN IMMEDIATE` takes the write lock up front, which other
 * processes wait for (busy_timeout). Runs on the same file in this process queue instead, since
 * better-sqlite3 would wait for the lock synchronously, blocking the event loop its holder needs.
 * (kysely's SQLite driver has one connection, so the migrator's queries run in this transaction.)
 */
async function inSqliteTransaction(
  db: Kysely<unknown>,
  run: () => Promise<MigrationResultSet>,
): Promise<MigrationResultSet> {
  const { rows } = await sql<{
    file: string;
  }>`select file from pragma_database_list where name = 'main'`.execute(db);
  const file = rows[0]?.file ?? '';
  const step = async (): Promise<MigrationResultSet> => {
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

import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type SqliteDatabase } from 'kysely';
import type pg from 'pg';
import { GatehouseError } from '../errors/gatehouse-error.js';

// Each driver is loaded only when its engine is opened: a process on SQLite never loads pg, and
// one on PostgreSQL never loads the native SQLite addon (tens of MiB of resident memory each).
const requireDriver = createRequire(import.meta.url);
const loadPg = (): typeof pg => requireDriver('pg') as typeof pg;
const loadBetterSqlite3 = (): typeof BetterSqlite3 => requireDriver('better-sqlite3') as typeof BetterSqlite3;

export type SqlEngine = 'sqlite' | 'postgres';

export interface SqlDatabaseOptions {
  /** `postgres://…` for PostgreSQL; otherwise `sqliteFile` is used. */
  readonly url?: string | undefined;
  /** SQLite file (created with its folder); `:memory:` for a throwaway database. */
  readonly sqliteFile?: string | undefined;
  /**
   * SQLite durability (default `normal`): in WAL mode `normal` survives a process crash (kill -9)
   * and may lose the last commits only on an OS crash or power loss; `full` syncs every commit.
   */
  readonly sqliteSynchronous?: 'normal' | 'full';
  /** PostgreSQL pool size (default 10). */
  readonly poolSize?: number;
}

export interface SqlDatabase<DB> {
  readonly db: Kysely<DB>;
  readonly engine: SqlEngine;
  close(): Promise<void>;
}

/**
 * Opens the durable store: SQLite (better-sqlite3, WAL) by default, PostgreSQL when a URL is given.
 * Both speak through one kysely instance, so repositories are written once. Portable column
 * conventions: times are epoch milliseconds (`bigint`), booleans are 0/1 integers, JSON is text.
 */
export function openSqlDatabase<DB>(options: SqlDatabaseOptions): SqlDatabase<DB> {
  if (options.url !== undefined && /^postgres(ql)?:\/\//.test(options.url)) {
    // int8 and numeric come back as strings by default; every integer we store fits a double.
    const pg = loadPg();
    const types = new pg.TypeOverrides();
    types.setTypeParser(pg.types.builtins.INT8, Number);
    types.setTypeParser(pg.types.builtins.NUMERIC, Number);
    const pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 10, types });
    // An idle client losing its connection must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    return { db, engine: 'postgres', close: () => db.destroy() };
  }
  if (options.url !== undefined) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      detail: 'database url must be postgres:// or postgresql://',
    });
  }
  const file = options.sqliteFile ?? ':memory:';
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const Sqlite = loadBetterSqlite3();
  const sqlite = new Sqlite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${options.sqliteSynchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  return { db, engine: 'sqlite', close: () => db.destroy() };
}

/** Most prepared statements kept per SQLite database (queries are a fixed set of shapes). */
const STATEMENT_CACHE_SIZE = 512;

/**
 * kysely's SQLite driver prepares every query anew; preparing costs several times more than
 * running a point query. Statements are cached by SQL text (parameters are bound per run), which
 * is safe because the driver runs one query at a time on its single connection.
 */
export function withStatementCache(
  database: BetterSqlite3.Database,
  size = STATEMENT_CACHE_SIZE,
): SqliteDatabase {
  const statements = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => {
      statements.clear();
      database.close();
    },
    prepare(sql) {
      let statement = statements.get(sql);
      if (statement === undefined) {
        statement = database.prepare(sql);
        statements.set(sql, statement);
        if (statements.size > size) statements.delete(statements.keys().next().value as string);
      }
      return statement;
    },
  };
}

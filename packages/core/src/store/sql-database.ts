import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import {
  Kysely,
  PostgresDialect,
  SqliteDialect,
  type PostgresPool,
  type PostgresPoolClient,
  type SqliteDatabase,
} from 'kysely';
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
  /**
   * How long opening a PostgreSQL connection may take, in milliseconds (default: the URL's
   * `connect_timeout` in seconds, else 5000). A database that refuses or never answers is then a
   * fast `ERR_STORE_UNAVAILABLE`, not a request that hangs.
   */
  readonly connectTimeoutMs?: number;
}

/** Connect timeout when neither the options nor the URL (`connect_timeout`) set one. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

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
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      types,
      connectionTimeoutMillis: options.connectTimeoutMs ?? connectTimeoutOf(options.url),
    });
    // An idle client losing its connection must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: withUnavailableErrors(pool) }) });
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

/**
 * libpq's `connect_timeout` (seconds) of a URL, in milliseconds; the default when absent or not a
 * positive number. (pg itself reads it only with the native driver.)
 */
function connectTimeoutOf(url: string): number {
  let seconds = Number.NaN;
  try {
    seconds = Number(new URL(url).searchParams.get('connect_timeout') ?? Number.NaN);
  } catch {
    // Not a URL to WHATWG (its error would carry the password): pg reports it, redacted, on connect.
  }
  return seconds > 0 ? seconds * 1000 : DEFAULT_CONNECT_TIMEOUT_MS;
}

/** Socket errors that mean the server cannot be reached or the connection was lost. */
const NETWORK_ERRORS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * pg's own connection failures carry no code, only these messages (pg 8: a lost socket, the
 * connect and `query_timeout` timers, a client broken by an earlier error), each mapped to a
 * fixed detail for the log.
 */
const DRIVER_FAILURES: ReadonlyArray<readonly [RegExp, string]> = [
  [/^Connection terminated due to connection timeout/, 'connect timeout'],
  [/^timeout exceeded when trying to connect/, 'connect timeout'],
  [/^Query read timeout/, 'query timeout'],
  [/^Connection terminated/, 'connection lost'],
  [/is not queryable/, 'connection lost'],
];

/**
 * SQLSTATEs that say the server is unreachable, overloaded or going away, not that the query is
 * wrong: class 08 (connection exception), class 53 (insufficient resources: too many
 * connections, disk full), 57P01-57P03 (shutdown, crash, not yet accepting connections) and
 * 57014 (`statement_timeout` cancelled the query).
 */
function isUnavailableState(state: string): boolean {
  return /^(08|53)/.test(state) || /^57P0[123]$/.test(state) || state === '57014';
}

/**
 * The store error of a PostgreSQL failure that means "the database is not available now": a
 * `GatehouseError('ERR_STORE_UNAVAILABLE')` (503 with `Retry-After`) whose detail is a fixed
 * label, never the driver's message (which may name the host); undefined for any other error
 * (a constraint violation, a syntax error), which callers see unchanged.
 */
export function storeUnavailableOf(err: unknown): GatehouseError<'ERR_STORE_UNAVAILABLE'> | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  let label: string | undefined;
  if (typeof code === 'string') {
    if (NETWORK_ERRORS.has(code) || (/^[0-9A-Z]{5}$/.test(code) && isUnavailableState(code))) label = code;
  } else {
    label = DRIVER_FAILURES.find(([pattern]) => pattern.test(err.message))?.[1];
  }
  if (label === undefined) return undefined;
  return new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: `postgres: ${label}`, cause: err });
}

/**
 * The pool kysely sees: pg's, with "database unavailable" failures (`storeUnavailableOf`) raised
 * as `ERR_STORE_UNAVAILABLE` so that every caller answers 503 instead of 500, and the connection
 * of such a failure destroyed instead of returned to the pool (after a `query_timeout` its socket
 * may still hang, and every later query on it would wait behind the lost one).
 *
 * pg-pool listens for a client's `error` event only while the client is idle; a checked-out client
 * whose socket dies emits it with no listener, which crashes the process (pg rejects the query as
 * well). The listener here covers the checked-out time: the query fails, the process lives.
 */
function withUnavailableErrors(pool: pg.Pool): PostgresPool {
  return {
    async connect(): Promise<PostgresPoolClient> {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw storeUnavailableOf(err) ?? err;
      }
      let broken = false;
      const onError = (): void => {
        broken = true;
      };
      client.on('error', onError);
      const query = async (text: string, parameters: readonly unknown[]): Promise<pg.QueryResult> => {
        try {
          // kysely passes a fresh array of its own; pg only reads it.
          return await client.query(text, parameters as unknown[]);
        } catch (err) {
          const unavailable = storeUnavailableOf(err);
          if (unavailable === undefined) throw err;
          broken = true;
          throw unavailable;
        }
      };
      return {
        // kysely calls the cursor overload only when a `cursor` class is configured (never here).
        query: query as unknown as PostgresPoolClient['query'],
        release: (destroy) => {
          client.off('error', onError);
          client.release(destroy === true || broken);
        },
      };
    },
    end: () => pool.end(),
  };
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

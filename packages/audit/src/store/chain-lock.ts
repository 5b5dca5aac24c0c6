import { setTimeout as sleep } from 'node:timers/promises';
import { SqliteAdapter, sql, type Kysely } from 'kysely';
import type { AuditLogDatabase } from './schema.js';

/** First key of the PostgreSQL advisory lock (ASCII "gaud"); the second is the table's oid. */
const PG_LOCK_CLASS = 0x67617564;
/** `BEGIN IMMEDIATE` attempts when SQLite reports the database busy past its busy_timeout. */
const SQLITE_BEGIN_ATTEMPTS = 5;

/**
 * Runs `fn` in one transaction that holds the chain lock, so appenders in any process or instance
 * take turns reading the head and writing after it:
 * - PostgreSQL: `pg_advisory_xact_lock` keyed on the `audit_log` table's oid (so two schemas of one
 *   database do not contend), released at commit or rollback. Plain readers are never blocked.
 * - SQLite: `BEGIN IMMEDIATE` takes the write lock before the head is read (a deferred transaction
 *   that reads first could not upgrade after another process committed). Other processes wait on
 *   it (busy_timeout); transactions of this process on the same file queue in memory first, since
 *   better-sqlite3 waits for a lock synchronously and would block the event loop its holder needs.
 */
export async function inChainTransaction<T>(
  db: Kysely<AuditLogDatabase>,
  fn: (trx: Kysely<AuditLogDatabase>) => Promise<T>,
): Promise<T> {
  if (!(db.getExecutor().adapter instanceof SqliteAdapter)) {
    return db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${sql.lit(PG_LOCK_CLASS)}, cast(cast(cast('audit_log' as regclass) as oid) as integer))`.execute(
        trx,
      );
      return fn(trx);
    });
  }
  const key = await sqliteFileKey(db);
  const run = (): Promise<T> =>
    db.connection().execute(async (conn) => {
      await beginImmediate(conn);
      try {
        const result = await fn(conn);
        await sql`commit`.execute(conn);
        return result;
      } catch (err) {
        await sql`rollback`.execute(conn).catch(() => undefined);
        throw err;
      }
    });
  const previous = sqliteQueues.get(key) ?? Promise.resolve();
  const current = previous.then(run, run);
  const tail = current.then(
    () => undefined,
    () => undefined,
  );
  sqliteQueues.set(key, tail);
  try {
    return await current;
  } finally {
    if (sqliteQueues.get(key) === tail) sqliteQueues.delete(key);
  }
}

/** The tail of the queue of chain transactions per SQLite file in this process. */
const sqliteQueues = new Map<string, Promise<void>>();
const fileKeys = new WeakMap<object, Promise<string>>();
let memoryDatabases = 0;

/** The file a SQLite handle writes to; an in-memory database is a queue of its own. */
function sqliteFileKey(db: Kysely<AuditLogDatabase>): Promise<string> {
  let key = fileKeys.get(db);
  if (key === undefined) {
    key = sql<{ file: string }>`select file from pragma_database_list where name = 'main'`
      .execute(db)
      .then(({ rows }) => {
        const file = rows[0]?.file ?? '';
        return file === '' ? `memory:${++memoryDatabases}` : `file:${file}`;
      });
    fileKeys.set(db, key);
  }
  return key;
}

async function beginImmediate(conn: Kysely<AuditLogDatabase>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await sql`begin immediate`.execute(conn);
      return;
    } catch (err) {
      const busy = (err as { code?: unknown }).code === 'SQLITE_BUSY';
      if (!busy || attempt >= SQLITE_BEGIN_ATTEMPTS) throw err;
      await sleep(20 * attempt);
    }
  }
}

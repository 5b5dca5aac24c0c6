import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { relayTargetOf, requireService, serviceUrl, startTcpRelay, type TcpRelay } from '@gatehouse/testing';
import { sql, type Kysely } from 'kysely';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  openSqlDatabase,
  storeUnavailableOf,
  withStatementCache,
  type SqlDatabase,
  type SqlDatabaseOptions,
  type SqlEngine,
} from './sql-database.js';

const pg = await requireService('postgres', 'core SQL store on PostgreSQL');

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sql-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const opened: Array<SqlDatabase<unknown>> = [];
function open(options: SqlDatabaseOptions): SqlDatabase<unknown> {
  const database = openSqlDatabase<unknown>(options);
  opened.push(database);
  return database;
}
afterEach(async () => {
  await Promise.all(opened.splice(0).map((d) => d.close()));
});

async function pragma(db: Kysely<unknown>, name: string): Promise<unknown> {
  const { rows } = await sql<Record<string, unknown>>`${sql.raw(`pragma ${name}`)}`.execute(db);
  return Object.values(rows[0] ?? {})[0];
}

describe('openSqlDatabase: engine from the options', () => {
  const cases: Array<{ name: string; options: SqlDatabaseOptions; engine: SqlEngine }> = [
    { name: 'postgres:// URL', options: { url: 'postgres://u@127.0.0.1:1/db' }, engine: 'postgres' },
    { name: 'postgresql:// URL', options: { url: 'postgresql://u@127.0.0.1:1/db' }, engine: 'postgres' },
    {
      name: 'postgres:// URL with a connect_timeout',
      options: { url: 'postgres://u@127.0.0.1:1/db?connect_timeout=3' },
      engine: 'postgres',
    },
    // Not a WHATWG URL: opening still succeeds (pg reports it on connect, password redacted).
    {
      name: 'postgres:// URL pg parses',
      options: { url: 'postgres://u:s3cret@[::1/db' },
      engine: 'postgres',
    },
    { name: 'no options: SQLite in memory', options: {}, engine: 'sqlite' },
    {
      name: 'url explicitly undefined',
      options: { url: undefined, sqliteFile: ':memory:' },
      engine: 'sqlite',
    },
    { name: 'a SQLite file', options: { sqliteFile: ':memory:' }, engine: 'sqlite' },
  ];

  // Opening a PostgreSQL pool connects lazily, so these need no server.
  it.each(cases)('$name -> $engine', ({ options, engine }) => {
    expect(open(options).engine).toBe(engine);
  });

  const invalid = [
    'mysql://app:s3cret@127.0.0.1/db',
    'sqlite:///var/lib/gatehouse.db',
    'file:gatehouse.db',
    'redis://127.0.0.1:6379',
    '',
    ' postgres://app:s3cret@127.0.0.1/db',
    'postgres:/app:s3cret@127.0.0.1/db',
  ];

  it.each(invalid)('refuses %j as ERR_CONFIG_INVALID without echoing it', (url) => {
    let caught: unknown;
    try {
      openSqlDatabase({ url, sqliteFile: ':memory:' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    expect(JSON.stringify(caught)).not.toContain('s3cret');
  });
});

describe('openSqlDatabase: SQLite file', () => {
  it('creates the folders, runs in WAL mode with NORMAL sync, foreign keys and a busy timeout', async () => {
    const file = join(tempDir(), 'data', 'nested', 'gatehouse.db');
    const { db } = open({ sqliteFile: file });
    expect(existsSync(file)).toBe(true);
    expect(await pragma(db, 'journal_mode')).toBe('wal');
    expect(await pragma(db, 'synchronous')).toBe(1); // NORMAL
    expect(await pragma(db, 'foreign_keys')).toBe(1);
    expect(await pragma(db, 'busy_timeout')).toBe(5000);
  });

  it('syncs every commit with sqliteSynchronous: full', async () => {
    const { db } = open({ sqliteFile: join(tempDir(), 'full.db'), sqliteSynchronous: 'full' });
    expect(await pragma(db, 'synchronous')).toBe(2); // FULL
  });

  it('keeps committed data across close and reopen', async () => {
    const file = join(tempDir(), 'durable.db');
    const first = openSqlDatabase<unknown>({ sqliteFile: file });
    await sql`create table t (v integer)`.execute(first.db);
    await sql`insert into t (v) values (42)`.execute(first.db);
    await first.close();
    const { db } = open({ sqliteFile: file });
    const { rows } = await sql<{ v: number }>`select v from t`.execute(db);
    expect(rows).toEqual([{ v: 42 }]);
  });

  it('an in-memory database touches no disk and is not shared between handles', async () => {
    const a = open({});
    const b = open({ sqliteFile: ':memory:' });
    expect(await pragma(a.db, 'journal_mode')).toBe('memory');
    await sql`create table only_in_a (v integer)`.execute(a.db);
    await expect(sql`select * from only_in_a`.execute(b.db)).rejects.toThrow(/no such table/);
  });
});

interface Engine {
  readonly name: string;
  readonly available: boolean;
  target(): Promise<{ options: SqlDatabaseOptions; cleanup: () => Promise<void> }>;
}

/**
 * A PostgreSQL database of this test file's own, dropped at the end. Schemas of parallel test files
 * never meet: catalog introspection (kysely's migrator uses it) sees only its own database.
 */
async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `gh_test_${randomBytes(6).toString('hex')}`;
  const admin = openSqlDatabase<unknown>({ url: serviceUrl('postgres'), poolSize: 1 });
  await sql`create database ${sql.id(name)}`.execute(admin.db);
  const url = new URL(serviceUrl('postgres'));
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await sql`drop database if exists ${sql.id(name)} with (force)`.execute(admin.db);
      await admin.close();
    },
  };
}

const testDatabase = pg.available ? await createTestDatabase() : undefined;
afterAll(async () => {
  await testDatabase?.drop();
});
const pgUrl = testDatabase?.url ?? serviceUrl('postgres');

/** A fresh PostgreSQL schema per test, so parallel test files never see each other's tables. */
async function postgresTarget(): Promise<{ options: SqlDatabaseOptions; cleanup: () => Promise<void> }> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = openSqlDatabase<unknown>({ url: pgUrl, poolSize: 1 });
  await sql`create schema ${sql.id(schema)}`.execute(admin.db);
  const searchPath = encodeURIComponent(`-c search_path=${schema}`);
  return {
    options: { url: `${pgUrl}${pgUrl.includes('?') ? '&' : '?'}options=${searchPath}` },
    cleanup: async () => {
      await sql`drop schema ${sql.id(schema)} cascade`.execute(admin.db);
      await admin.close();
    },
  };
}

const engines: Engine[] = [
  {
    name: 'SQLite file',
    available: true,
    target: () =>
      Promise.resolve({
        options: { sqliteFile: join(tempDir(), 'store.db') },
        cleanup: () => Promise.resolve(),
      }),
  },
  {
    name: 'SQLite :memory:',
    available: true,
    target: () => Promise.resolve({ options: { sqliteFile: ':memory:' }, cleanup: () => Promise.resolve() }),
  },
  { name: 'PostgreSQL', available: pg.available, target: postgresTarget },
];

for (const engine of engines) {
  describe.skipIf(!engine.available)(`openSqlDatabase on ${engine.name}: portable conventions`, () => {
    let cleanup: () => Promise<void> = () => Promise.resolve();
    let db: Kysely<unknown>;

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((d) => d.close()));
      await cleanup();
    });

    async function fresh(): Promise<void> {
      const target = await engine.target();
      cleanup = target.cleanup;
      db = open(target.options).db;
      await sql`create table events (id integer primary key, at_ms bigint not null, ok integer not null)`.execute(
        db,
      );
    }

    it('bigint columns (epoch milliseconds), count and sum come back as JS numbers', async () => {
      await fresh();
      const times = [1_700_000_000_123, Number.MAX_SAFE_INTEGER];
      await sql`insert into events (id, at_ms, ok) values (1, ${times[0]}, 1), (2, ${times[1]}, 0)`.execute(
        db,
      );
      const { rows } = await sql<{ at_ms: unknown }>`select at_ms from events order by id`.execute(db);
      expect(rows.map((r) => r.at_ms)).toEqual(times);
      const totals = await sql<{ n: unknown; total: unknown; ok: unknown }>`
        select count(*) as n, sum(at_ms) - ${Number.MAX_SAFE_INTEGER} as total, sum(ok) as ok from events
      `.execute(db);
      // PostgreSQL types count as int8 and sum(bigint) as numeric: both parsed to numbers.
      expect(totals.rows).toEqual([{ n: 2, total: times[0], ok: 1 }]);
    });

    it('enforces foreign keys', async () => {
      await fresh();
      await sql`create table child (id integer primary key, event_id integer not null references events (id))`.execute(
        db,
      );
      await expect(sql`insert into child (id, event_id) values (1, 99)`.execute(db)).rejects.toThrow(
        /foreign key/i,
      );
    });

    it('rolls a failed transaction back', async () => {
      await fresh();
      await expect(
        db.transaction().execute(async (trx) => {
          await sql`insert into events (id, at_ms, ok) values (1, 1, 1)`.execute(trx);
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      const { rows } = await sql<{ n: number }>`select count(*) as n from events`.execute(db);
      expect(rows).toEqual([{ n: 0 }]);
    });

    it('refuses queries after close()', async () => {
      await fresh();
      const database = opened.pop()!;
      await database.close();
      await expect(sql`select 1`.execute(database.db)).rejects.toThrow();
    });
  });
}

describe.skipIf(!pg.available)('openSqlDatabase on PostgreSQL: pool', () => {
  async function backendPids(db: Kysely<unknown>, parallel: number): Promise<Set<number>> {
    const results = await Promise.all(
      Array.from({ length: parallel }, () =>
        sql<{ pid: number }>`select pg_backend_pid() as pid, pg_sleep(0.05)`.execute(db),
      ),
    );
    return new Set(results.map((r) => r.rows[0]!.pid));
  }

  it('uses up to poolSize connections (default 10)', async () => {
    expect((await backendPids(open({ url: pgUrl, poolSize: 1 }).db, 3)).size).toBe(1);
    expect((await backendPids(open({ url: pgUrl }).db, 3)).size).toBe(3);
  });

  it('survives an idle connection being killed by the server, and reconnects', async () => {
    const { db } = open({ url: pgUrl, poolSize: 1 });
    const [pid] = await backendPids(db, 1);
    const admin = open({ url: pgUrl, poolSize: 1 }).db;
    await sql`select pg_terminate_backend(${pid})`.execute(admin);
    // Wait until the server has really dropped it; the idle client then emits 'error' in this process.
    for (let i = 0; i < 100; i += 1) {
      const { rows } = await sql<{
        n: number;
      }>`select count(*) as n from pg_stat_activity where pid = ${pid}`.execute(admin);
      if (rows[0]!.n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    const [next] = await backendPids(db, 1);
    expect(next).not.toBe(pid);
  });
});

describe('storeUnavailableOf: which PostgreSQL failures mean "not available now"', () => {
  const coded = (message: string, code: string): Error => Object.assign(new Error(message), { code });
  const cases: Array<{ name: string; err: unknown; detail: string | undefined }> = [
    {
      name: 'connection refused',
      err: coded('connect ECONNREFUSED 10.0.0.7:5432', 'ECONNREFUSED'),
      detail: 'postgres: ECONNREFUSED',
    },
    { name: 'connection reset', err: coded('read ECONNRESET', 'ECONNRESET'), detail: 'postgres: ECONNRESET' },
    {
      name: 'unknown host',
      err: coded('getaddrinfo ENOTFOUND db', 'ENOTFOUND'),
      detail: 'postgres: ENOTFOUND',
    },
    { name: 'SQLSTATE 08006 connection failure', err: coded('x', '08006'), detail: 'postgres: 08006' },
    { name: 'SQLSTATE 53300 too many connections', err: coded('x', '53300'), detail: 'postgres: 53300' },
    { name: 'SQLSTATE 57P01 admin shutdown', err: coded('x', '57P01'), detail: 'postgres: 57P01' },
    { name: 'SQLSTATE 57P03 cannot connect now', err: coded('x', '57P03'), detail: 'postgres: 57P03' },
    { name: 'SQLSTATE 57014 statement timeout', err: coded('x', '57014'), detail: 'postgres: 57014' },
    {
      name: 'pg connect timer',
      err: new Error('Connection terminated due to connection timeout'),
      detail: 'postgres: connect timeout',
    },
    {
      name: 'pg-pool connect timer',
      err: new Error('timeout exceeded when trying to connect'),
      detail: 'postgres: connect timeout',
    },
    { name: 'pg query_timeout', err: new Error('Query read timeout'), detail: 'postgres: query timeout' },
    {
      name: 'socket lost',
      err: new Error('Connection terminated unexpectedly'),
      detail: 'postgres: connection lost',
    },
    {
      name: 'client broken by an earlier error',
      err: new Error('Client has encountered a connection error and is not queryable'),
      detail: 'postgres: connection lost',
    },
    // Everything else is the caller's to handle, unchanged.
    { name: 'unique violation 23505', err: coded('duplicate key', '23505'), detail: undefined },
    { name: 'schema missing 3F000', err: coded('no schema', '3F000'), detail: undefined },
    { name: 'auth failure 28P01', err: coded('password authentication failed', '28P01'), detail: undefined },
    { name: 'another code', err: coded('x', 'ERR_SOMETHING'), detail: undefined },
    { name: 'another message', err: new Error('syntax error at or near "selec"'), detail: undefined },
    { name: 'not an Error', err: 'ECONNREFUSED', detail: undefined },
  ];

  it.each(cases)('$name -> $detail', ({ err, detail }) => {
    const mapped = storeUnavailableOf(err);
    if (detail === undefined) {
      expect(mapped).toBeUndefined();
      return;
    }
    expect(mapped).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', status: 503, detail, cause: err });
    // The driver's message (it may name the host) stays in `cause`, out of message and detail.
    expect(JSON.stringify(mapped)).not.toContain('10.0.0.7');
  });
});

describe.skipIf(!pg.available)('openSqlDatabase on PostgreSQL: the database going away', () => {
  let relay: TcpRelay;
  beforeEach(async () => {
    relay = await startTcpRelay([relayTargetOf(pgUrl, 5432)]);
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((d) => d.close()));
    await relay.close();
  });

  /** The test database's URL through the relay, with extra query parameters. */
  function viaRelay(params: Record<string, string> = {}): string {
    const url = new URL(pgUrl);
    url.host = `127.0.0.1:${relay.port}`;
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
    return url.toString();
  }

  async function failure(run: () => Promise<unknown>): Promise<{ err: unknown; ms: number }> {
    const started = performance.now();
    try {
      await run();
    } catch (err) {
      return { err, ms: performance.now() - started };
    }
    throw new Error('expected a failure');
  }

  it('refused: ERR_STORE_UNAVAILABLE at once; back: the same handle works again', async () => {
    const { db } = open({ url: viaRelay(), poolSize: 2 });
    await sql`select 1`.execute(db);
    await relay.cut();
    // The pooled connection may be handed out before its close is noticed: that one is lost.
    const first = await failure(() => sql`select 1`.execute(db));
    expect(first.err).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    expect((first.err as { detail: string }).detail).toMatch(/^postgres: (ECONNREFUSED|connection lost)$/);
    const { err, ms } = await failure(() => sql`select 1`.execute(db));
    expect(err).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', detail: 'postgres: ECONNREFUSED' });
    expect(ms).toBeLessThan(1000);
    await relay.restore();
    expect((await sql<{ v: number }>`select 1 as v`.execute(db)).rows).toEqual([{ v: 1 }]);
  });

  it('hanging: ERR_STORE_UNAVAILABLE after the connect timeout (option), never a wait without end', async () => {
    const { db } = open({ url: viaRelay(), connectTimeoutMs: 200 });
    relay.setBlackhole(true);
    const { err, ms } = await failure(() => sql`select 1`.execute(db));
    expect(err).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', detail: 'postgres: connect timeout' });
    expect(ms).toBeGreaterThanOrEqual(150);
    expect(ms).toBeLessThan(1500);
    relay.setBlackhole(false);
    expect((await sql<{ v: number }>`select 1 as v`.execute(db)).rows).toEqual([{ v: 1 }]);
  });

  it("hanging: libpq's connect_timeout (seconds) in the URL sets the connect timeout", async () => {
    const { db } = open({ url: viaRelay({ connect_timeout: '1' }) });
    relay.setBlackhole(true);
    const { err, ms } = await failure(() => sql`select 1`.execute(db));
    expect(err).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', detail: 'postgres: connect timeout' });
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(2500);
  });

  it('cut during a query and a transaction: the query fails as unavailable and the process lives on', async () => {
    const { db } = open({ url: viaRelay(), poolSize: 1 });
    await sql`select 1`.execute(db);
    setTimeout(() => void relay.cut(), 100);
    // Without a listener on the checked-out client, pg's 'error' event would crash the process.
    const inQuery = await failure(() => sql`select pg_sleep(2)`.execute(db));
    expect(inQuery.err).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    await relay.restore();
    const inTransaction = await failure(() =>
      db.transaction().execute(async (trx) => {
        await sql`select 1`.execute(trx);
        await relay.cut();
        await new Promise((resolve) => setTimeout(resolve, 50));
        await sql`select 1`.execute(trx);
      }),
    );
    expect(inTransaction.err).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    await relay.restore();
    expect((await sql<{ v: number }>`select 1 as v`.execute(db)).rows).toEqual([{ v: 1 }]);
  });

  it('query_timeout (URL): unavailable, and the stuck connection is dropped, not reused', async () => {
    const { db } = open({ url: viaRelay({ query_timeout: '100' }), poolSize: 1 });
    const { err } = await failure(() => sql`select pg_sleep(1)`.execute(db));
    expect(err).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', detail: 'postgres: query timeout' });
    // On the one pooled connection this would wait behind the sleeping query: it gets a new one.
    const started = performance.now();
    await sql`select 1`.execute(db);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('statement_timeout (URL, SQLSTATE 57014) is unavailable; a wrong query or a refused login is not', async () => {
    const { db } = open({ url: viaRelay({ statement_timeout: '50' }), poolSize: 1 });
    const timedOut = await failure(() => sql`select pg_sleep(1)`.execute(db));
    expect(timedOut.err).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', detail: 'postgres: 57014' });
    const wrong = await failure(() => sql`selec 1`.execute(db));
    expect(wrong.err).toMatchObject({ code: '42601' });
    // The connection of a query error is kept: the next query runs on it.
    expect((await sql<{ v: number }>`select 1 as v`.execute(db)).rows).toEqual([{ v: 1 }]);
    const stranger = new URL(viaRelay());
    stranger.username = `nobody_${randomBytes(4).toString('hex')}`;
    const refused = await failure(() => sql`select 1`.execute(open({ url: stranger.toString() }).db));
    expect(refused.err).toMatchObject({ code: '28000' });
  });
});

describe('SQLite statement cache', () => {
  it('prepares each SQL text once and evicts the oldest beyond its size', async () => {
    const BetterSqlite3 = (await import('better-sqlite3')).default;
    const database = new BetterSqlite3(':memory:');
    let prepared = 0;
    const prepare = database.prepare.bind(database);
    database.prepare = (text: string) => {
      prepared += 1;
      return prepare(text);
    };
    const cached = withStatementCache(database, 2);
    expect(cached.prepare('select 1').all([])).toEqual([{ 1: 1 }]);
    expect(cached.prepare('select 1').all([])).toEqual([{ 1: 1 }]);
    expect(prepared).toBe(1);
    cached.prepare('select 2');
    cached.prepare('select 3');
    cached.prepare('select 1');
    expect(prepared).toBe(4);
    cached.close();
    expect(database.open).toBe(false);
  });
});

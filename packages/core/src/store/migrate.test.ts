import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import BetterSqlite3 from 'better-sqlite3';
import { requireService, serviceUrl } from '@gatehouse/testing';
import { PostgresAdapter, sql, type Kysely, type Migration } from 'kysely';
import { afterAll, afterEach, describe, expect, it, vi, type Mock } from 'vitest';
import { migrateToLatest, runMigrations } from './migrate.js';
import type { PhasedMigration } from './migration-phase.js';
import { openSqlDatabase, type SqlDatabase, type SqlDatabaseOptions } from './sql-database.js';

const pg = await requireService('postgres', 'core SQL migrations on PostgreSQL');

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

/** Where one test's database lives. */
interface Target {
  readonly options: SqlDatabaseOptions;
  readonly cleanup: () => Promise<void>;
}

interface Engine {
  readonly name: string;
  readonly available: boolean;
  /** Whether a second handle opens the same database (not so for `:memory:`). */
  readonly shared: boolean;
  target(): Promise<Target>;
}

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh PostgreSQL schema per test: parallel test files never see each other's tables. */
async function postgresTarget(): Promise<Target> {
  const base = pgUrl;
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = openSqlDatabase({ url: base, poolSize: 1 });
  await sql`create schema ${sql.id(schema)}`.execute(admin.db);
  const options = encodeURIComponent(`-c search_path=${schema}`);
  return {
    options: { url: `${base}${base.includes('?') ? '&' : '?'}options=${options}` },
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
    shared: true,
    target: () => {
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-migrate-'));
      tempDirs.push(dir);
      return Promise.resolve({
        options: { sqliteFile: join(dir, 'store.db') },
        cleanup: () => Promise.resolve(),
      });
    },
  },
  {
    name: 'SQLite :memory:',
    available: true,
    shared: false,
    target: () => Promise.resolve({ options: { sqliteFile: ':memory:' }, cleanup: () => Promise.resolve() }),
  },
  { name: 'PostgreSQL', available: pg.available, shared: true, target: postgresTarget },
];

/** A migration that creates `table` and records its own run in `runs` (one row per execution). */
function creates(table: string, log?: string[]): Migration {
  return {
    up: async (db: Kysely<unknown>) => {
      log?.push(table);
      await db.schema
        .createTable(table)
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .execute();
      await sql`insert into runs (name) values (${table})`.execute(db);
    },
  };
}

const runsTable: Migration = {
  up: async (db: Kysely<unknown>) => {
    await db.schema
      .createTable('runs')
      .addColumn('name', 'varchar(64)', (c) => c.notNull())
      .execute();
  },
};

/** A contract migration: drops `table`, which queries of the previous version may still use. */
function drops(table: string): PhasedMigration {
  return {
    phase: 'contract',
    up: async (db: Kysely<unknown>) => {
      await db.schema.dropTable(table).execute();
      await sql`insert into runs (name) values (${`drop ${table}`})`.execute(db);
    },
  };
}

/** Version 1 of a component, and version 2: it no longer uses table a (dropped by 003) and adds b. */
const v1 = { '001_runs': runsTable, '002_a': creates('a') };
const v2 = { ...v1, '003_drop_a': drops('a'), '004_b': creates('b') };

/** A logger that keeps its warnings. */
function recorder(): { readonly warn: Mock<(details: object, message: string) => void> } {
  return { warn: vi.fn<(details: object, message: string) => void>() };
}

/** Tables of this test's database (on PostgreSQL: of its own schema; introspection lists every schema). */
async function tableNames(db: Kysely<unknown>): Promise<string[]> {
  const own =
    db.getExecutor().adapter instanceof PostgresAdapter
      ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema
      : undefined;
  return (await db.introspection.getTables({ withInternalKyselyTables: true }))
    .filter((t) => t.schema === own)
    .map((t) => t.name)
    .sort();
}

async function runs(db: Kysely<unknown>): Promise<string[]> {
  const result = await sql<{ name: string }>`select name from runs order by name`.execute(db);
  return result.rows.map((r) => r.name);
}

/** Applied migrations of a history table; none when the table does not exist (yet). */
async function history(db: Kysely<unknown>, table: string): Promise<string[]> {
  if (!(await tableNames(db)).includes(table)) return [];
  const result = await sql<{ name: string }>`select name from ${sql.table(table)} order by name`.execute(db);
  return result.rows.map((r) => r.name);
}

for (const engine of engines) {
  describe.skipIf(!engine.available)(`migrateToLatest on ${engine.name}`, () => {
    const open: Array<SqlDatabase<unknown>> = [];
    const targets: Target[] = [];

    async function fresh(): Promise<{ target: Target; db: Kysely<unknown> }> {
      const target = await engine.target();
      targets.push(target);
      return { target, db: handle(target) };
    }

    function handle(target: Target): Kysely<unknown> {
      const database = openSqlDatabase(target.options);
      open.push(database);
      return database.db;
    }

    afterEach(async () => {
      await Promise.all(open.splice(0).map((d) => d.close()));
      await Promise.all(targets.splice(0).map((t) => t.cleanup()));
    });

    it('applies migrations once, in name order, and records them in <component>_migrations', async () => {
      const { db } = await fresh();
      const log: string[] = [];
      // Declared out of order on purpose: names decide the order.
      const migrations = { '003_c': creates('c', log), '001_runs': runsTable, '002_b': creates('b', log) };
      await expect(migrateToLatest(db, 'auth-server', migrations)).resolves.toEqual([
        '001_runs',
        '002_b',
        '003_c',
      ]);
      expect(log).toEqual(['b', 'c']);
      expect(await history(db, 'auth_server_migrations')).toEqual(['001_runs', '002_b', '003_c']);
      expect(await tableNames(db)).toEqual(
        expect.arrayContaining(['auth_server_migrations', 'auth_server_migrations_lock', 'b', 'c', 'runs']),
      );
    });

    it('is idempotent: a second run applies nothing; a later migration applies alone', async () => {
      const { db } = await fresh();
      const log: string[] = [];
      const first = { '001_runs': runsTable, '002_b': creates('b', log) };
      await migrateToLatest(db, 'core', first);
      await expect(migrateToLatest(db, 'core', first)).resolves.toEqual([]);
      await expect(migrateToLatest(db, 'core', { ...first, '003_c': creates('c', log) })).resolves.toEqual([
        '003_c',
      ]);
      expect(log).toEqual(['b', 'c']);
      expect(await runs(db)).toEqual(['b', 'c']);
    });

    it('a failing migration is ERR_STORE_MIGRATION_FAILED and leaves nothing half applied', async () => {
      const { db } = await fresh();
      const failing: Migration = {
        up: async (trx: Kysely<unknown>) => {
          await trx.schema.createTable('half').addColumn('id', 'integer').execute();
          throw new Error('boom');
        },
      };
      const before = await tableNames(db);
      const err = await migrateToLatest(db, 'core', {
        '001_runs': runsTable,
        '002_b': creates('b'),
        '003_fails': failing,
      }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_STORE_MIGRATION_FAILED', detail: 'core migrations' });
      expect((err as Error).cause).toMatchObject({ message: 'boom' });
      // The run is one transaction: neither the earlier migrations nor the failing one's DDL remain
      // (the empty history tables may, depending on the engine).
      const after = (await tableNames(db)).filter((t) => !before.includes(t));
      expect(after.filter((t) => !t.startsWith('core_migrations'))).toEqual([]);
      expect(await history(db, 'core_migrations')).toEqual([]);

      // Fixed, the same history applies cleanly.
      await expect(
        migrateToLatest(db, 'core', { '001_runs': runsTable, '002_b': creates('b') }),
      ).resolves.toEqual(['001_runs', '002_b']);
    });

    it('components keep separate histories', async () => {
      const { db } = await fresh();
      await migrateToLatest(db, 'shared', { '001_runs': runsTable });
      await expect(migrateToLatest(db, 'gateway', { '001_x': creates('gw') })).resolves.toEqual(['001_x']);
      await expect(migrateToLatest(db, 'bff', { '001_x': creates('bf') })).resolves.toEqual(['001_x']);
      await expect(migrateToLatest(db, 'gateway', { '001_x': creates('gw') })).resolves.toEqual([]);
      expect(await history(db, 'gateway_migrations')).toEqual(['001_x']);
      expect(await history(db, 'bff_migrations')).toEqual(['001_x']);
      expect(await runs(db)).toEqual(['bf', 'gw']);
    });

    const corrupt: Array<{ name: string; later: Record<string, Migration> }> = [
      { name: 'an applied migration is missing', later: { '002_b': creates('b') } },
      {
        name: 'a new migration sorts before an applied one',
        later: { '000_early': creates('e'), '001_runs': runsTable },
      },
    ];

    it.each(corrupt)('refuses a rewritten history: $name', async ({ later }) => {
      const { db } = await fresh();
      await migrateToLatest(db, 'core', { '001_runs': runsTable });
      await expect(migrateToLatest(db, 'core', later)).rejects.toMatchObject({
        code: 'ERR_STORE_MIGRATION_FAILED',
      });
      expect(await history(db, 'core_migrations')).toEqual(['001_runs']);
    });

    it('a table named like the history but of another shape is ERR_STORE_MIGRATION_FAILED, nothing applied', async () => {
      const { db } = await fresh();
      await sql`create table core_migrations (id integer)`.execute(db);
      await expect(migrateToLatest(db, 'core', v1)).rejects.toMatchObject({
        code: 'ERR_STORE_MIGRATION_FAILED',
        detail: 'core migrations',
      });
      expect(await tableNames(db)).toEqual(['core_migrations']);
    });

    describe('expand/contract', () => {
      it('at start a contract migration waits, saying so, while the expand migration after it applies', async () => {
        const { db } = await fresh();
        await migrateToLatest(db, 'core', v1);
        const logger = recorder();
        await expect(migrateToLatest(db, 'core', v2, { logger })).resolves.toEqual(['004_b']);
        expect(logger.warn).toHaveBeenCalledExactlyOnceWith(
          { migrations: 'core', heldBack: ['003_drop_a'] },
          'contract migrations held back: run `gatehouse migrate --contract` once every instance runs this version',
        );
        expect(await tableNames(db)).toContain('a');
        expect(await history(db, 'core_migrations')).toEqual(['001_runs', '002_a', '004_b']);
        // Every start says it again until the operator runs it.
        await expect(migrateToLatest(db, 'core', v2, { logger })).resolves.toEqual([]);
        expect(logger.warn).toHaveBeenCalledTimes(2);
      });

      it('--contract applies the held-back migration once, recorded as a contract migration', async () => {
        const { db } = await fresh();
        await migrateToLatest(db, 'core', v1);
        await migrateToLatest(db, 'core', v2, { logger: recorder() });
        await expect(runMigrations(db, 'core', v2, { contract: true })).resolves.toEqual({
          applied: ['003_drop_a'],
          heldBack: [],
          newer: [],
        });
        expect(await tableNames(db)).not.toContain('a');
        expect(await runs(db)).toEqual(['a', 'b', 'drop a']);
        expect(await history(db, 'core_migrations')).toEqual(['001_runs', '002_a', '003_drop_a', '004_b']);
        expect(await history(db, 'core_migrations_contract')).toEqual(['003_drop_a']);
        await expect(runMigrations(db, 'core', v2, { contract: true })).resolves.toEqual({
          applied: [],
          heldBack: [],
          newer: [],
        });
        const logger = recorder();
        await expect(migrateToLatest(db, 'core', v2, { logger })).resolves.toEqual([]);
        expect(logger.warn).not.toHaveBeenCalled();
      });

      it('a fresh database applies contract migrations at start: no previous version runs on it', async () => {
        const { db } = await fresh();
        const logger = recorder();
        await expect(migrateToLatest(db, 'core', v2, { logger })).resolves.toEqual([
          '001_runs',
          '002_a',
          '003_drop_a',
          '004_b',
        ]);
        expect(logger.warn).not.toHaveBeenCalled();
        expect(await runs(db)).toEqual(['a', 'b', 'drop a']);
      });

      it('the previous version starts on the expanded schema, and refuses it once contracted', async () => {
        const { db } = await fresh();
        await migrateToLatest(db, 'core', v1);
        await migrateToLatest(db, 'core', v2, { logger: recorder() });
        // An instance of version 1 restarting during the rollout, or after a rollback.
        const logger = recorder();
        await expect(migrateToLatest(db, 'core', v1, { logger })).resolves.toEqual([]);
        expect(logger.warn).toHaveBeenCalledExactlyOnceWith(
          { migrations: 'core', newer: ['004_b'] },
          'the schema is ahead of this version (a newer version migrated it); running as the previous version',
        );
        await sql`insert into a (id) values (1)`.execute(db);
        await runMigrations(db, 'core', v2, { contract: true });
        await expect(migrateToLatest(db, 'core', v1)).rejects.toMatchObject({
          code: 'ERR_STORE_MIGRATION_FAILED',
          detail:
            'core migrations: a newer version ran the contract migration 003_drop_a; this version no longer runs on this schema',
        });
      });
    });

    if (engine.shared) {
      it('an instance starting while the operator runs --contract: each migration runs once, none fails', async () => {
        const { target, db } = await fresh();
        const other = handle(target);
        await migrateToLatest(db, 'core', v1);
        const results = await Promise.all([
          migrateToLatest(db, 'core', v2, { logger: recorder() }),
          runMigrations(other, 'core', v2, { contract: true }).then((run) => run.applied),
        ]);
        expect(results.flat().sort()).toEqual(['003_drop_a', '004_b']);
        expect(await runs(db)).toEqual(['a', 'b', 'drop a']);
        expect(await history(db, 'core_migrations')).toEqual(['001_runs', '002_a', '003_drop_a', '004_b']);
      });

      it('two handles migrating at the same time run each migration exactly once', async () => {
        const { target, db } = await fresh();
        const other = handle(target);
        const migrations = {
          '001_runs': runsTable,
          '002_a': creates('a'),
          '003_b': creates('b'),
          '004_c': creates('c'),
        };
        const results = await Promise.all([
          migrateToLatest(db, 'core', migrations),
          migrateToLatest(other, 'core', migrations),
        ]);
        expect(results.flat().sort()).toEqual(Object.keys(migrations));
        expect(await runs(db)).toEqual(['a', 'b', 'c']);
        expect(await history(other, 'core_migrations')).toEqual(Object.keys(migrations));
      });
    }
  });
}

describe.skipIf(!pg.available)('migrateToLatest on PostgreSQL with several schemas', () => {
  it('a same-named history in another schema of the database neither hides nor replaces ours', async () => {
    const [first, second] = [await postgresTarget(), await postgresTarget()];
    const a = openSqlDatabase<unknown>(first.options);
    const b = openSqlDatabase<unknown>(second.options);
    try {
      await migrateToLatest(a.db, 'core', { '001_runs': runsTable, '002_a': creates('a') });
      await expect(
        migrateToLatest(b.db, 'core', {
          '001_runs': runsTable,
          '002_a': creates('a'),
          '003_b': creates('b'),
        }),
      ).resolves.toEqual(['001_runs', '002_a', '003_b']);
      expect(await history(a.db, 'core_migrations')).toEqual(['001_runs', '002_a']);
      expect(await runs(b.db)).toEqual(['a', 'b']);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await Promise.all([first.cleanup(), second.cleanup()]);
    }
  });
});

describe('migrateToLatest on a SQLite file locked by someone else', () => {
  const migrations = { '001_runs': runsTable, '002_a': creates('a') };
  let dir = '';
  const open: Array<SqlDatabase<unknown>> = [];

  afterEach(async () => {
    await Promise.all(open.splice(0).map((d) => d.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  function fresh(): { file: string; db: Kysely<unknown> } {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-migrate-lock-'));
    const file = join(dir, 'store.db');
    const database = openSqlDatabase({ sqliteFile: file });
    open.push(database);
    return { file, db: database.db };
  }

  it('waits for another process holding the write lock, then migrates once', async () => {
    const { file, db } = fresh();
    // Another process takes the SQLite write lock and keeps it for 300 ms.
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const db = new (require('better-sqlite3'))(process.argv[1]);
         db.exec('begin immediate');
         db.exec('create table holder (x integer)');
         process.stdout.write('locked\\n');
         setTimeout(() => { db.exec('commit'); db.close(); }, 300);`,
        file,
      ],
      { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = once(holder, 'exit');
    await once(holder.stdout, 'data');
    // Without waiting, BEGIN IMMEDIATE would fail with SQLITE_BUSY while the holder has the lock.
    await expect(migrateToLatest(db, 'core', migrations)).resolves.toEqual(['001_runs', '002_a']);
    expect(await exited).toEqual([0, null]);
    expect(await runs(db)).toEqual(['a']);
    expect(await tableNames(db)).toContain('holder');
  });

  it('a write lock held past busy_timeout is ERR_STORE_MIGRATION_FAILED and applies nothing', async () => {
    const { file, db } = fresh();
    await sql`pragma busy_timeout = 50`.execute(db);
    const holder = new BetterSqlite3(file);
    holder.exec('begin immediate');
    try {
      await expect(migrateToLatest(db, 'core', migrations)).rejects.toMatchObject({
        code: 'ERR_STORE_MIGRATION_FAILED',
        cause: { code: 'SQLITE_BUSY' },
      });
    } finally {
      holder.exec('rollback');
      holder.close();
    }
    expect(await tableNames(db)).toEqual([]);
    await expect(migrateToLatest(db, 'core', migrations)).resolves.toEqual(['001_runs', '002_a']);
  });
});

describe('migrateToLatest when other DDL changes the catalog during its scan', () => {
  // PostgreSQL's answers when a schema (3F000), a table (42P01) or a column (42703, from
  // pg_get_serial_sequence) is dropped by another session while kysely scans the catalog.
  it.each([
    ['3F000', 'schema "t_x" does not exist'],
    ['42P01', 'relation "t" does not exist'],
    ['42703', 'column "d" of relation "t" does not exist'],
  ])(
    'runs again after a %s failure (nothing was applied) and gives up after three tries',
    async (code, message) => {
      const database = openSqlDatabase({ sqliteFile: ':memory:' });
      let attempts = 0;
      const flaky = (failures: number): Migration => ({
        async up(db) {
          attempts += 1;
          if (attempts <= failures) throw Object.assign(new Error(message), { code });
          await db.schema.createTable('vanish_ok').addColumn('id', 'integer').execute();
        },
      });
      await expect(migrateToLatest(database.db, 'vanish_a', { '0001': flaky(2) })).resolves.toEqual(['0001']);
      expect(attempts).toBe(3);
      attempts = 0;
      await expect(migrateToLatest(database.db, 'vanish_b', { '0001': flaky(5) })).rejects.toMatchObject({
        code: 'ERR_STORE_MIGRATION_FAILED',
      });
      expect(attempts).toBe(3);
      await database.close();
    },
  );

  it('does not run again after any other failure', async () => {
    const database = openSqlDatabase({ sqliteFile: ':memory:' });
    let attempts = 0;
    const broken: Migration = {
      up() {
        attempts += 1;
        return Promise.reject(Object.assign(new Error('syntax error'), { code: '42601' }));
      },
    };
    await expect(migrateToLatest(database.db, 'broken', { '0001': broken })).rejects.toMatchObject({
      code: 'ERR_STORE_MIGRATION_FAILED',
    });
    expect(attempts).toBe(1);
    await database.close();
  });
});

describe('migrateToLatest without a logger', () => {
  it('writes the held-back warning as a JSON log line on standard error (stdout may be --json)', async () => {
    const database = openSqlDatabase({ sqliteFile: ':memory:' });
    await migrateToLatest(database.db, 'core', v1);
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      await expect(migrateToLatest(database.db, 'core', v2)).resolves.toEqual(['004_b']);
    } finally {
      spy.mockRestore();
      await database.close();
    }
    const lines = written
      .filter((text) => text.includes('"heldBack"'))
      .map((text) => JSON.parse(text) as unknown);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        component: 'gatehouse',
        migrations: 'core',
        heldBack: ['003_drop_a'],
        msg: expect.stringContaining('gatehouse migrate --contract'),
      }),
    ]);
  });
});

import { runMigrations, type PhasedMigration } from '@gatehouse/core';
import { requireService } from '@gatehouse/testing';
import { MIGRATION_SETS } from 'gatehouse';
import { sql, type Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import { expandViolations, readCatalog, type Catalog } from './support/catalog.js';
import { freshPostgresSchema, freshSqliteFile, type FreshDatabase } from './support/databases.js';
import { readAsPrevious, writeAsPrevious } from './support/previous-version.js';

/**
 * Issue 7, expand/contract: every registered migration set (MIGRATION_SETS, the list `gatehouse
 * migrate` runs) is applied one migration at a time to an empty database, and the catalog (tables;
 * columns with type, nullability and default; indexes; constraints) compared with the step before:
 * a migration not declared `contract` must be additive. Around each expand step, rows are written
 * and read with only the previous schema's columns, as instances of the previous version still
 * running do. The checker itself is shown to catch each kind of violation on synthetic migrations.
 */
const pg = await requireService('postgres', 'migration catalog diff on PostgreSQL');

interface Engine {
  readonly name: string;
  readonly available: boolean;
  readonly postgres: boolean;
  fresh(): Promise<FreshDatabase>;
}

const engines: Engine[] = [
  {
    name: 'SQLite',
    available: true,
    postgres: false,
    fresh: () => Promise.resolve(freshSqliteFile('gh-catalog')),
  },
  {
    name: 'PostgreSQL',
    available: pg.available,
    postgres: true,
    fresh: () => freshPostgresSchema('catalog'),
  },
];

async function withFresh<T>(engine: Engine, fn: (db: Kysely<unknown>) => Promise<T>): Promise<T> {
  const fresh = await engine.fresh();
  try {
    return await fn(fresh.database.db);
  } finally {
    await fresh.drop();
  }
}

const phaseOf = (migration: PhasedMigration | undefined): string => migration?.phase ?? 'expand';

for (const engine of engines) {
  describe.skipIf(!engine.available)(`registered migration sets on ${engine.name}`, () => {
    it.each(MIGRATION_SETS.map((set) => ({ ...set, count: Object.keys(set.migrations).length })))(
      '$component ($count migrations): expand steps are additive; the previous schema still reads and writes',
      async ({ component, migrations }) => {
        const names = Object.keys(migrations).sort();
        await withFresh(engine, async (db) => {
          let before: Catalog = await readCatalog(db);
          const report: string[] = [];
          for (const [step, name] of names.entries()) {
            const expand = phaseOf(migrations[name]) === 'expand';
            const written = expand ? await writeAsPrevious(db, before, `${name}-before`) : undefined;
            const subset = Object.fromEntries(names.slice(0, step + 1).map((n) => [n, migrations[n]!]));
            const run = await runMigrations(db, component, subset, { contract: true });
            expect(run.applied, `${component} ${name}`).toEqual([name]);
            const after = await readCatalog(db);
            if (written !== undefined) {
              expect(expandViolations(before, after), `${component} ${name} (expand)`).toEqual([]);
              // Rows the previous version wrote before the step are still there for it to read ...
              await readAsPrevious(db, written.rows);
              // ... and it can still write and read new ones with only the columns it knows.
              const again = await writeAsPrevious(db, before, `${name}-after`);
              await readAsPrevious(db, again.rows);
              expect(again.rows.length + again.skipped.length).toBe(before.tables.length);
            }
            report.push(`${name}: ${phaseOf(migrations[name])}, ${after.tables.length} tables`);
            before = after;
          }
          // Something was migrated and looked at: every step of the set is in the report.
          expect(report).toHaveLength(names.length);
          expect(before.tables.length).toBeGreaterThan(0);
        });
      },
    );
  });

  describe.skipIf(!engine.available)(`the catalog check itself on ${engine.name}`, () => {
    // A table the previous version uses: b has a unique index, c a plain one, e a default.
    async function base(db: Kysely<unknown>): Promise<void> {
      await sql`create table t (id integer primary key, a text not null, b text, c integer, d text,
          e integer not null default 0)`.execute(db);
      await sql`create index t_c on t (c)`.execute(db);
      await sql`create unique index t_b_unique on t (b)`.execute(db);
    }

    /** A violation, its SQL on each engine (null: the engine itself refuses it or has no such DDL). */
    const violations: Array<{ name: string; postgres: string[]; sqlite: string[] | null; says: string[] }> = [
      {
        name: 'dropping a column',
        postgres: ['alter table t drop column d'],
        sqlite: ['alter table t drop column d'],
        says: ['column t.d removed (or renamed)'],
      },
      {
        name: 'renaming a column',
        postgres: ['alter table t rename column d to d2'],
        sqlite: ['alter table t rename column d to d2'],
        says: ['column t.d removed (or renamed)'],
      },
      {
        name: 'renaming a table',
        postgres: ['alter table t rename to t2'],
        sqlite: ['alter table t rename to t2'],
        says: ['table t removed (or renamed)'],
      },
      {
        name: 'changing a type',
        postgres: ['alter table t alter column c type text'],
        sqlite: null,
        says: ['column t.c changed type from int4 to text'],
      },
      {
        name: 'adding a NOT NULL column without a default',
        postgres: ['alter table t add column f text not null'],
        sqlite: null,
        says: ['column t.f added NOT NULL without a default to an existing table'],
      },
      {
        name: 'NOT NULL on an existing column',
        postgres: ['alter table t alter column d set not null'],
        sqlite: null,
        says: ['column t.d became NOT NULL'],
      },
      {
        name: 'dropping the default of a NOT NULL column',
        postgres: ['alter table t alter column e drop default'],
        sqlite: null,
        says: ['column t.e (NOT NULL) lost its default'],
      },
      {
        name: 'dropping a unique index',
        postgres: ['drop index t_b_unique'],
        sqlite: ['drop index t_b_unique'],
        says: ['unique index t_b_unique removed or changed'],
      },
      {
        name: 'a unique index on an existing column',
        postgres: ['create unique index t_d_unique on t (d)'],
        sqlite: ['create unique index t_d_unique on t (d)'],
        says: ['unique index t_d_unique covers existing columns of t'],
      },
      {
        name: 'a check constraint on an existing column',
        postgres: ['alter table t add constraint t_c_positive check (c > 0)'],
        sqlite: null,
        says: ['check constraint t_c_positive added on existing columns of t'],
      },
    ];

    it.each(violations.filter((v) => (engine.postgres ? true : v.sqlite !== null)))(
      'flags $name',
      async ({ postgres, sqlite, says }) => {
        await withFresh(engine, async (db) => {
          await base(db);
          const before = await readCatalog(db);
          for (const statement of engine.postgres ? postgres : (sqlite ?? []))
            await sql.raw(statement).execute(db);
          expect(expandViolations(before, await readCatalog(db))).toEqual(says);
        });
      },
    );

    it('passes what the previous version cannot notice: new columns, tables, indexes; a plain index dropped', async () => {
      await withFresh(engine, async (db) => {
        await base(db);
        const before = await readCatalog(db);
        for (const statement of [
          'alter table t add column g text',
          'alter table t add column h integer not null default 1',
          'create unique index t_g_unique on t (g)',
          'drop index t_c',
          'create index t_c on t (c) where c is not null',
          'create table u (id integer primary key, t_id integer references t (id), x integer check (x > 0))',
          'create unique index u_x on u (x)',
        ]) {
          await sql.raw(statement).execute(db);
        }
        const after = await readCatalog(db);
        expect(after.tables).toEqual(['t', 'u']);
        expect(after.columns.filter((c) => c.table === 't').map((c) => c.name)).toEqual([
          'a',
          'b',
          'c',
          'd',
          'e',
          'g',
          'h',
          'id',
        ]);
        expect(expandViolations(before, after)).toEqual([]);
      });
    });

    it("the previous version's writes fail on a NOT NULL column added without a default", async () => {
      await withFresh(engine, async (db) => {
        await base(db);
        const before = await readCatalog(db);
        // SQLite refuses this DDL outright; a table rebuild is how it would be done there.
        const statements = engine.postgres
          ? ['alter table t add column f text not null']
          : [
              `create table t_new (id integer primary key, a text not null, b text, c integer, d text,
                 e integer not null default 0, f text not null)`,
              'drop table t',
              'alter table t_new rename to t',
            ];
        for (const statement of statements) await sql.raw(statement).execute(db);
        await expect(writeAsPrevious(db, before, 'old')).rejects.toThrow(/not.null/i);
      });
    });

    it("the previous version's reads fail once a column it reads is dropped", async () => {
      await withFresh(engine, async (db) => {
        await base(db);
        const before = await readCatalog(db);
        const { rows } = await writeAsPrevious(db, before, 'old');
        await sql`alter table t drop column d`.execute(db);
        await expect(readAsPrevious(db, rows)).rejects.toThrow(/d/);
      });
    });
  });
}

import { randomBytes } from 'node:crypto';
import { requireService, serviceUrl } from '@gatehouse/testing';
import { CamelCasePlugin, sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { precompiledInsert, precompiledQuery } from './precompiled-query.js';
import { openSqlDatabase, type SqlDatabase } from './sql-database.js';

const pg = await requireService('postgres', 'precompiled queries on PostgreSQL');

interface TestDatabase {
  items: { id: string; owner: string; size: number; note: string | null };
}

const ITEMS = [
  { id: 'a', owner: 'alice', size: 1, note: null },
  { id: 'b', owner: 'alice', size: 5, note: "it's quoted; drop table items; --" },
  { id: 'c', owner: 'bob', size: 3, note: 'x' },
];

const byOwnerAbove = precompiledQuery(
  ['owner', 'size'],
  (db: Kysely<TestDatabase>, values: { owner: string; size: number }) =>
    db
      .selectFrom('items')
      .select(['id', 'size'])
      .where('owner', '=', values.owner)
      .where('size', '>', values.size)
      .orderBy('id'),
);
const byNote = precompiledQuery(['note'], (db: Kysely<TestDatabase>, values: { note: string }) =>
  db.selectFrom('items').select('id').where('note', '=', values.note).where('id', '!=', 'z'),
);

const engines = [
  {
    name: 'SQLite',
    available: true,
    open: () =>
      Promise.resolve({
        database: openSqlDatabase<TestDatabase>({ sqliteFile: ':memory:' }),
        cleanup: () => Promise.resolve(),
      }),
  },
  {
    name: 'PostgreSQL',
    available: pg.available,
    open: async () => {
      const schema = `t_${randomBytes(6).toString('hex')}`;
      const admin = openSqlDatabase<unknown>({ url: serviceUrl('postgres'), poolSize: 1 });
      await sql`create schema ${sql.id(schema)}`.execute(admin.db);
      const url = new URL(serviceUrl('postgres'));
      url.searchParams.set('options', `-c search_path=${schema}`);
      return {
        database: openSqlDatabase<TestDatabase>({ url: url.toString(), poolSize: 2 }),
        cleanup: async () => {
          await sql`drop schema ${sql.id(schema)} cascade`.execute(admin.db);
          await admin.close();
        },
      };
    },
  },
];

for (const engine of engines) {
  describe.skipIf(!engine.available)(`precompiledQuery on ${engine.name}`, () => {
    let database: SqlDatabase<TestDatabase>;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      ({ database, cleanup } = await engine.open());
      await database.db.schema
        .createTable('items')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('note', 'text')
        .execute();
      await database.db.insertInto('items').values(ITEMS).execute();
    });
    afterAll(async () => {
      await database.close();
      await cleanup();
    });

    it('answers like the query built on every call, for every set of values', async () => {
      const { db } = database;
      for (const [owner, size] of [
        ['alice', 0],
        ['alice', 2],
        ['bob', 0],
        ['bob', 3],
        ['nobody', 0],
      ] as const) {
        const built = await db
          .selectFrom('items')
          .select(['id', 'size'])
          .where('owner', '=', owner)
          .where('size', '>', size)
          .orderBy('id')
          .execute();
        expect(await byOwnerAbove(db, { owner, size })).toEqual(built);
      }
    });

    it('inserts batches of any size with every value bound, nulls included', async () => {
      const { db } = database;
      const insert = precompiledInsert<TestDatabase, TestDatabase['items']>('items', [
        'id',
        'owner',
        'size',
        'note',
      ]);
      await insert(db, []);
      const batches = [1, 3, 1, 7].map((count, batch) =>
        Array.from({ length: count }, (_, i) => ({
          id: `batch${String(batch)}-${String(i)}`,
          owner: "o'reilly; --",
          size: batch * 100 + i,
          note: i % 2 === 0 ? null : `note ${String(i)}`,
        })),
      );
      for (const rows of batches) await insert(db, rows);
      const stored = await db
        .selectFrom('items')
        .selectAll()
        .where('id', 'like', 'batch%')
        .orderBy('size')
        .execute();
      expect(stored).toEqual(batches.flat().sort((x, y) => x.size - y.size));
      await db.deleteFrom('items').where('id', 'like', 'batch%').execute();
    });

    it('compiles once for a database and its transactions; a database with plugins compiles its own', async () => {
      const { db } = database;
      let builds = 0;
      const byId = precompiledQuery(['id'], (on: Kysely<TestDatabase>, values: { id: string }) => {
        builds++;
        return on.selectFrom('items').select(['id', 'owner']).where('id', '=', values.id);
      });
      expect(await byId(db, { id: 'a' })).toEqual([{ id: 'a', owner: 'alice' }]);
      for (const id of ['b', 'c']) {
        const rows = await db.transaction().execute((trx) => byId(trx, { id }));
        expect(rows).toEqual([{ id, owner: id === 'c' ? 'bob' : 'alice' }]);
      }
      expect(builds).toBe(1);
      // A plugin can change the SQL: such an instance is not given its database's template.
      const snake = db.withPlugin(new CamelCasePlugin());
      expect(await byId(snake, { id: 'c' })).toEqual([{ id: 'c', owner: 'bob' }]);
      expect(builds).toBe(2);

      const insert = precompiledInsert<TestDatabase, TestDatabase['items']>('items', [
        'id',
        'owner',
        'size',
        'note',
      ]);
      await db
        .transaction()
        .execute((trx) => insert(trx, [{ id: 'tx-1', owner: 'tx', size: 1, note: null }]));
      await db
        .transaction()
        .execute((trx) => insert(trx, [{ id: 'tx-2', owner: 'tx', size: 2, note: null }]));
      expect(
        await db.selectFrom('items').select('id').where('owner', '=', 'tx').orderBy('id').execute(),
      ).toEqual([{ id: 'tx-1' }, { id: 'tx-2' }]);
      await db.deleteFrom('items').where('owner', '=', 'tx').execute();
    });

    it('binds values as parameters (never inlined into the SQL)', async () => {
      const { db } = database;
      expect(await byNote(db, { note: "it's quoted; drop table items; --" })).toEqual([{ id: 'b' }]);
      expect(await byNote(db, { note: "' or '1'='1" })).toEqual([]);
      // The constant parameter of the template stays in place.
      expect(await byNote(db, { note: 'x' })).toEqual([{ id: 'c' }]);
      const count = await db
        .selectFrom('items')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(count.n)).toBe(ITEMS.length);
    });
  });
}

describe('precompiledQuery: templates it refuses', () => {
  const database = openSqlDatabase<TestDatabase>({ sqliteFile: ':memory:' });
  afterAll(async () => {
    await database.close();
  });

  it('refuses a value inlined into the SQL text', async () => {
    const inlined = precompiledQuery(['id'], (db: Kysely<TestDatabase>, values: { id: string }) =>
      db.selectFrom('items').select('id').where(sql.lit(values.id), '=', 'id'),
    );
    await expect(inlined(database.db, { id: 'a' })).rejects.toThrow('inlined');
  });

  it('refuses a value the query does not use', async () => {
    const unused = precompiledQuery(
      ['id', 'owner'],
      (db: Kysely<TestDatabase>, values: { id: string; owner: string }) =>
        db.selectFrom('items').select('id').where('id', '=', values.id),
    );
    await expect(unused(database.db, { id: 'a', owner: 'alice' })).rejects.toThrow(
      'owner is not a parameter',
    );
  });

  it('refuses a value nested inside a parameter', async () => {
    const nested = precompiledQuery(['prefix'], (db: Kysely<TestDatabase>, values: { prefix: string }) =>
      db.selectFrom('items').select('id').where('id', 'like', `${values.prefix}%`),
    );
    await expect(nested(database.db, { prefix: 'a' })).rejects.toThrow();
    const alsoNested = precompiledQuery(['id'], (db: Kysely<TestDatabase>, values: { id: string }) =>
      db.selectFrom('items').select('id').where('id', '=', values.id).where('note', 'like', `${values.id}%`),
    );
    await expect(alsoNested(database.db, { id: 'a' })).rejects.toThrow('nested in a parameter');
  });
});

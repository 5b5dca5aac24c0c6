import { openSqlDatabase } from '@gatehouse/core';
import { afterAll, describe, expect, it } from 'vitest';
import { migrateAuthServer } from '../../src/create-auth-server.js';
import { ACCESS_TOKEN_COLUMNS } from '../../src/tokens/issue-access-token.js';
import { GRANT_COLUMNS, REFRESH_TOKEN_COLUMNS } from '../../src/tokens/refresh-tokens.js';

/**
 * The precompiled inserts name their columns once; a column a migration adds and the list lacks
 * would silently get its default on every insert. Each list must be the table's columns, as the
 * migrations leave them.
 */
describe('the column lists of the precompiled inserts', () => {
  const database = openSqlDatabase<unknown>({ sqliteFile: ':memory:' });
  afterAll(async () => {
    await database.close();
  });

  it.each([
    ['grants', GRANT_COLUMNS],
    ['refresh_tokens', REFRESH_TOKEN_COLUMNS],
    ['access_tokens', ACCESS_TOKEN_COLUMNS],
  ] as const)('%s: every column of the table, and only those', async (table, columns) => {
    await migrateAuthServer(database.db);
    const tables = await database.db.introspection.getTables();
    const found = tables.find((t) => t.name === table);
    expect(found, table).toBeDefined();
    expect([...columns].sort()).toEqual(found!.columns.map((c) => c.name).sort());
  });
});

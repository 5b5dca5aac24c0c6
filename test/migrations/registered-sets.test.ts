import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrateAudit } from '@gatehouse/audit';
import { migrateAuthServer } from '@gatehouse/auth-server';
import { migrateRevocationFeed, migrationHistoryTable, openSqlDatabase } from '@gatehouse/core';
import { migrateGateway } from '@gatehouse/gateway';
import { MIGRATION_SETS } from 'gatehouse';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Non-test TypeScript sources of every package. */
function sources(): string[] {
  return readdirSync(join(ROOT, 'packages')).flatMap((pkg) => {
    const src = join(ROOT, 'packages', pkg, 'src');
    let files: string[];
    try {
      files = readdirSync(src, { recursive: true, encoding: 'utf8' });
    } catch {
      return [];
    }
    return files
      .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
      .map((file) => join('packages', pkg, 'src', file));
  });
}

describe('MIGRATION_SETS, the one list of migration sets', () => {
  it('names each component once, each with migrations', () => {
    const components = MIGRATION_SETS.map((set) => set.component);
    expect(new Set(components).size).toBe(components.length);
    expect(new Set(components.map(migrationHistoryTable)).size).toBe(components.length);
    for (const set of MIGRATION_SETS) expect(Object.keys(set.migrations).length).toBeGreaterThan(0);
  });

  it('holds the set of every source file that runs migrateToLatest (register new sets there)', () => {
    const callers = sources().filter(
      (file) =>
        file !== join('packages', 'core', 'src', 'store', 'migrate.ts') &&
        readFileSync(join(ROOT, file), 'utf8').includes('migrateToLatest('),
    );
    // Today: auth server, revocation feed, gateway, audit, BFF; a new caller must be among them.
    expect(callers.length).toBeGreaterThanOrEqual(MIGRATION_SETS.length);
    const unregistered = callers.filter((file) => {
      const text = readFileSync(join(ROOT, file), 'utf8');
      return !MIGRATION_SETS.some(({ component }) => new RegExp(`['"\`]${component}['"\`]`).test(text));
    });
    expect(unregistered, 'register these in MIGRATION_SETS (packages/cli/src/commands/migrate.ts)').toEqual(
      [],
    );
  });

  it("matches what the components' own migrate functions write (same names, same migrations)", async () => {
    const database = openSqlDatabase<unknown>({ sqliteFile: ':memory:' });
    try {
      await migrateAuthServer(database.db);
      await migrateGateway(database.db);
      await migrateAudit(database.db);
      await migrateRevocationFeed(database.db);
      const tables = (
        await sql<{ name: string }>`select name from sqlite_master
            where type = 'table' and name like '%\\_migrations' escape '\\'`.execute(database.db)
      ).rows.map((row) => row.name);
      const written: Record<string, string[]> = {};
      for (const table of tables) {
        written[table] = (
          await sql<{ name: string }>`select name from ${sql.table(table)} order by name`.execute(database.db)
        ).rows.map((row) => row.name);
      }
      const expected = Object.fromEntries(
        MIGRATION_SETS.filter((set) => set.store === 'deployment').map((set) => [
          migrationHistoryTable(set.component),
          Object.keys(set.migrations).sort(),
        ]),
      );
      expect(written).toEqual(expected);
    } finally {
      await database.close();
    }
  });
});

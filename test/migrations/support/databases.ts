import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlDatabase, type SqlDatabase } from '@gatehouse/core';
import { serviceUrl } from '@gatehouse/testing';
import { sql } from 'kysely';

/** An empty database of one test: a fresh PostgreSQL schema or a fresh SQLite file. */
export interface FreshDatabase {
  readonly database: SqlDatabase<unknown>;
  /** DATABASE_URL for a process (PostgreSQL), or the SQLite file. */
  readonly url?: string;
  readonly sqliteFile?: string;
  drop(): Promise<void>;
}

/** A schema of its own (`search_path` in the URL), dropped by `drop`. */
export async function freshPostgresSchema(prefix: string): Promise<FreshDatabase> {
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = openSqlDatabase<unknown>({ url: serviceUrl('postgres'), poolSize: 1 });
  await sql`create schema ${sql.id(schema)}`.execute(admin.db);
  const url = new URL(serviceUrl('postgres'));
  url.searchParams.set('options', `-c search_path=${schema}`);
  const database = openSqlDatabase<unknown>({ url: url.toString(), poolSize: 2 });
  return {
    database,
    url: url.toString(),
    drop: async () => {
      await database.close();
      await sql`drop schema ${sql.id(schema)} cascade`.execute(admin.db);
      await admin.close();
    },
  };
}

/** A SQLite file in a folder of its own, removed by `drop`. */
export function freshSqliteFile(prefix: string): FreshDatabase {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const sqliteFile = join(dir, 'gatehouse.db');
  const database = openSqlDatabase<unknown>({ sqliteFile });
  return {
    database,
    sqliteFile,
    drop: async () => {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

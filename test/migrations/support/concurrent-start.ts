import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrationHistoryTable, type SqlDatabase } from '@gatehouse/core';
import { MIGRATION_SETS } from 'gatehouse';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * Issue 7, "run exactly once when several instances start together": four processes of the built
 * binary are spawned in the same tick on one empty database, then every history table must list
 * each registered migration exactly once and every process must have succeeded. One suite per
 * engine file (concurrent-start.*.test.ts): each spawns eight node processes, a few CPU seconds
 * each, which take far longer on a loaded machine (hence the generous timeouts).
 */
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(ROOT, 'packages/cli/bin/gatehouse.js');
const BUILT = ['cli', 'core', 'auth-server', 'gateway', 'audit', 'bff'].map((pkg) =>
  join(ROOT, 'packages', pkg, 'dist', pkg === 'cli' ? 'main.js' : 'index.js'),
);

/** Like the CLI suites: without `npm run build` the suite skips, saying why (never under REQUIRE_ALL). */
export function built(): boolean {
  const missing = BUILT.filter((file) => !existsSync(file));
  if (missing.length === 0) return true;
  const message = `concurrent migrations: skipped, not built (${missing.join(', ')}); run npm run build`;
  if (process.env['GATEHOUSE_REQUIRE_ALL'] === '1') throw new Error(`${message} (GATEHOUSE_REQUIRE_ALL=1)`);
  const log = process.env['GATEHOUSE_SKIP_LOG'];
  if (log !== undefined) appendFileSync(log, `${message}\n`);
  process.stderr.write(`[gatehouse] ${message}\n`);
  return false;
}

const ADMIN_TOKEN = randomBytes(32).toString('base64url');
const KEK = Buffer.alloc(32, 7).toString('base64');

/** A deployment file whose BFF keeps its sessions in SQL too, so that every registered set applies. */
function config(bffSessions: string): string {
  return `authServer:
  issuer: http://127.0.0.1:4000
  listen: { port: 0 }
admin:
  token: ${ADMIN_TOKEN}
  listen: { port: 0 }
bff:
  publicUrl: http://127.0.0.1:3000
  oidc: { issuer: "http://127.0.0.1:4000", clientId: bff, clientSecret: s3cret }
  gateway: { url: "http://127.0.0.1:8080" }
  session: { ${bffSessions} }
`;
}

interface Exit {
  readonly args: readonly string[];
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Spawns every command line in the same tick and waits for all of them to exit. */
function startTogether(
  commands: ReadonlyArray<readonly string[]>,
  cwd: string,
  env: Readonly<Record<string, string>>,
): Promise<Exit[]> {
  const children = commands.map((args) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { PATH: process.env['PATH'], GATEHOUSE_KEK: KEK, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    return new Promise<Exit>((resolve) => {
      child.once('close', (code) => resolve({ args, code, stdout, stderr }));
    });
  });
  return Promise.all(children);
}

/** Every history table of a database and its migrations, as listed (duplicates would show). */
async function histories(db: SqlDatabase<unknown>): Promise<Record<string, string[]>> {
  const tables =
    db.engine === 'sqlite'
      ? await sql<{ name: string }>`select name from sqlite_master
          where type = 'table' and name like '%\\_migrations' escape '\\'`.execute(db.db)
      : await sql<{ name: string }>`select table_name as name from information_schema.tables
          where table_schema = current_schema() and table_name like '%\\_migrations'`.execute(db.db);
  const result: Record<string, string[]> = {};
  for (const { name } of tables.rows) {
    result[name] = (
      await sql<{ name: string }>`select name from ${sql.table(name)} order by name`.execute(db.db)
    ).rows.map((row) => row.name);
  }
  return result;
}

const expected = (store: 'deployment' | 'bff-sessions'): Record<string, string[]> =>
  Object.fromEntries(
    MIGRATION_SETS.filter((set) => set.store === store).map((set) => [
      migrationHistoryTable(set.component),
      Object.keys(set.migrations).sort(),
    ]),
  );

/** What the `migrate --json` processes say they applied, per component, all processes together. */
function appliedBy(exits: readonly Exit[]): Record<string, string[]> {
  const applied: Record<string, string[]> = {};
  for (const exit of exits.filter((e) => e.args[0] === 'migrate')) {
    const { components } = JSON.parse(exit.stdout) as {
      components: Array<{ component: string; applied: string[] }>;
    };
    for (const { component, applied: names } of components) (applied[component] ??= []).push(...names);
  }
  for (const names of Object.values(applied)) names.sort();
  return applied;
}

/** Where one test's deployment keeps its stores. */
export interface ConcurrentTarget {
  /** DATABASE_URL, or nothing (SQLite in the data dir). */
  readonly env: Readonly<Record<string, string>>;
  /** The `bff.session` settings (flow mapping body). */
  readonly bffSessions: string;
  /** Handles to read the histories with (the same one when the BFF shares the database). */
  open(): {
    deployment: SqlDatabase<unknown>;
    bff: SqlDatabase<unknown>;
    close: () => Promise<void>;
  };
  drop(): Promise<void>;
}

export function describeConcurrentStart(
  name: string,
  available: boolean,
  target: (dir: string) => Promise<ConcurrentTarget>,
): void {
  describe.skipIf(!available || !built())(`four processes starting together on ${name}`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function deployment(): Promise<{ dir: string; stores: ConcurrentTarget }> {
      const dir = mkdtempSync(join(tmpdir(), 'gh-concurrent-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      const stores = await target(dir);
      cleanups.push(() => stores.drop());
      writeFileSync(join(dir, 'gatehouse.yaml'), config(stores.bffSessions));
      return { dir, stores };
    }

    async function expectHistories(stores: ConcurrentTarget): Promise<void> {
      const { deployment: main, bff, close } = stores.open();
      try {
        if (main === bff) {
          expect(await histories(main)).toEqual({ ...expected('deployment'), ...expected('bff-sessions') });
        } else {
          expect(await histories(main)).toEqual(expected('deployment'));
          expect(await histories(bff)).toEqual(expected('bff-sessions'));
        }
      } finally {
        await close();
      }
    }

    it('4 × gatehouse migrate: each migration applied by exactly one of them, none failed', async () => {
      const { dir, stores } = await deployment();
      const exits = await startTogether(
        Array.from({ length: 4 }, () => ['migrate', '--json']),
        dir,
        stores.env,
      );
      expect(exits.map((e) => ({ code: e.code, stderr: e.stderr }))).toEqual(
        Array.from({ length: 4 }, () => ({ code: 0, stderr: '' })),
      );
      // Together they applied every migration of every set once: no duplicate, none missing.
      expect(appliedBy(exits)).toEqual(
        Object.fromEntries(MIGRATION_SETS.map((set) => [set.component, Object.keys(set.migrations).sort()])),
      );
      await expectHistories(stores);
    }, 120_000);

    it('component starts racing `gatehouse migrate` (bans list ×2, keys list, migrate): all succeed, each migration once', async () => {
      const { dir, stores } = await deployment();
      const exits = await startTogether(
        [
          ['bans', 'list', '--json'],
          ['keys', 'list', '--json'],
          ['migrate', '--json'],
          ['bans', 'list', '--json'],
        ],
        dir,
        stores.env,
      );
      expect(exits.map((e) => ({ args: e.args, code: e.code, stderr: e.stderr }))).toEqual(
        exits.map((e) => ({ args: e.args, code: 0, stderr: '' })),
      );
      expect(JSON.parse(exits[0]!.stdout)).toEqual({ bans: [] });
      expect(JSON.parse(exits[1]!.stdout)).toMatchObject({ keys: expect.any(Array) });
      await expectHistories(stores);
    }, 120_000);
  });
}

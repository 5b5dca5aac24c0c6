import { join } from 'node:path';
import { Readable } from 'node:stream';
import BetterSqlite3 from 'better-sqlite3';
import { migrationHistoryTable, type PhasedMigration } from '@gatehouse/core';
import { sql, type Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createMigrateCommand,
  MIGRATION_SETS,
  type RegisteredMigrationSet,
} from '../src/commands/migrate.js';
import type { CliIo } from '../src/index.js';
import { createTestDeployment, MINIMAL_CONFIG, type CliResult, type TestDeployment } from './helpers/cli.js';

const BFF_SECTION = `bff:
  publicUrl: http://127.0.0.1:3000
  oidc: { issuer: "http://127.0.0.1:4000", clientId: bff, clientSecret: s3cret }
  gateway: { url: "http://127.0.0.1:8080" }
`;

/** The applied migrations of every history table in a SQLite file, by table. */
function histories(file: string): Record<string, string[]> {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    const tables = db
      .prepare(
        `select name from sqlite_master where type = 'table' and name like '%\\_migrations' escape '\\'`,
      )
      .pluck()
      .all() as string[];
    return Object.fromEntries(
      tables.map((table) => [
        table,
        db.prepare(`select name from "${table}" order by name`).pluck().all() as string[],
      ]),
    );
  } finally {
    db.close();
  }
}

const expected = (sets: readonly RegisteredMigrationSet[]): Record<string, string[]> =>
  Object.fromEntries(
    sets.map((set) => [migrationHistoryTable(set.component), Object.keys(set.migrations).sort()]),
  );

const deployments: TestDeployment[] = [];
afterEach(async () => {
  await Promise.all(deployments.splice(0).map((d) => d.remove()));
});

async function deploymentWith(config: string): Promise<TestDeployment> {
  const deployment = await createTestDeployment(config);
  deployments.push(deployment);
  return deployment;
}

describe('gatehouse migrate', () => {
  it('applies every registered set to a fresh deployment once; a second run finds them up to date', async () => {
    const deployment = await deploymentWith(MINIMAL_CONFIG);
    const first = await deployment.run(['migrate', '--json']);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    const document = JSON.parse(first.stdout) as { contract: boolean; components: unknown[] };
    expect(document).toEqual({
      contract: false,
      components: MIGRATION_SETS.map((set) =>
        set.store === 'deployment'
          ? {
              component: set.component,
              store: 'deployment',
              applied: Object.keys(set.migrations).sort(),
              heldBack: [],
              newer: [],
            }
          : { component: set.component, store: set.store, skipped: 'no bff section' },
      ),
    });
    const deploymentSets = MIGRATION_SETS.filter((set) => set.store === 'deployment');
    expect(histories(join(deployment.dataDir, 'gatehouse.db'))).toEqual(expected(deploymentSets));

    const second = await deployment.run(['migrate']);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(
      [
        ...deploymentSets.map((set) => `${set.component}: up to date`),
        'bff: skipped (no bff section)',
        '',
      ].join('\n'),
    );
  });

  it("migrates the BFF's SQLite session store where `gatehouse bff` opens it", async () => {
    const deployment = await deploymentWith(MINIMAL_CONFIG + BFF_SECTION);
    const result = await deployment.run(['migrate']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('bff: applied 0001_sessions\n');
    const bffSets = MIGRATION_SETS.filter((set) => set.store === 'bff-sessions');
    expect(histories(join(deployment.dataDir, 'bff-sessions.db'))).toEqual(expected(bffSets));

    const relative = await deploymentWith(
      `${MINIMAL_CONFIG}${BFF_SECTION}  session: { sqliteFile: sessions/bff.db }\n`,
    );
    expect((await relative.run(['migrate'])).code).toBe(0);
    expect(histories(join(relative.dir, 'sessions', 'bff.db'))).toEqual(expected(bffSets));
  });

  it('skips the BFF set when sessions live in Redis (nothing to migrate, no connection made)', async () => {
    const key = Buffer.alloc(32, 1).toString('base64url');
    const deployment = await deploymentWith(
      `${MINIMAL_CONFIG}${BFF_SECTION}  session: { redisUrl: "redis://127.0.0.1:1", encryptionKey: ${key} }\n`,
    );
    const result = await deployment.run(['migrate']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('bff: skipped (sessions in Redis)\n');
  });

  it('is listed in the usage text; an unknown option is a usage error', async () => {
    const deployment = await deploymentWith(MINIMAL_CONFIG);
    const help = await deployment.run(['--help']);
    expect(help.stdout).toMatch(/^ {2}migrate \[--contract\] \[--json\] .*$/m);
    const bad = await deployment.run(['migrate', '--force']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("gatehouse migrate: Unknown option '--force'");
  });
});

describe('gatehouse migrate with a contract migration (a synthetic set)', () => {
  /** Version 1: a table with a column the next version stops using; version 2 drops it (contract). */
  const v1: Record<string, PhasedMigration> = {
    '0001-notes': {
      async up(db: Kysely<unknown>) {
        await sql`create table notes (id integer primary key, body text, legacy text)`.execute(db);
      },
    },
  };
  const v2: Record<string, PhasedMigration> = {
    ...v1,
    '0002-drop-legacy': {
      phase: 'contract',
      async up(db: Kysely<unknown>) {
        await sql`alter table notes drop column legacy`.execute(db);
      },
    },
    '0003-notes-author': {
      async up(db: Kysely<unknown>) {
        await sql`alter table notes add column author text`.execute(db);
      },
    },
  };
  const set = (migrations: Record<string, PhasedMigration>): RegisteredMigrationSet[] => [
    { component: 'notes', migrations, store: 'deployment' },
  ];

  async function migrate(
    deployment: TestDeployment,
    sets: readonly RegisteredMigrationSet[],
    args: readonly string[] = [],
  ): Promise<CliResult> {
    let stdout = '';
    let stderr = '';
    const io: CliIo = {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      stdin: Readable.from([]),
      env: deployment.env,
      cwd: deployment.dir,
    };
    const code = await createMigrateCommand(sets)(args, io);
    return { code, stdout, stderr };
  }

  function columns(deployment: TestDeployment): string[] {
    const db = new BetterSqlite3(join(deployment.dataDir, 'gatehouse.db'), { readonly: true });
    try {
      return db.prepare(`select name from pragma_table_info('notes') order by cid`).pluck().all() as string[];
    } finally {
      db.close();
    }
  }

  it('holds it back, saying how to run it, and applies it with --contract', async () => {
    const deployment = await deploymentWith(MINIMAL_CONFIG);
    expect(await migrate(deployment, set(v1))).toMatchObject({
      code: 0,
      stdout: 'notes: applied 0001-notes\n',
    });

    const upgrade = await migrate(deployment, set(v2));
    expect(upgrade).toEqual({
      code: 0,
      stdout:
        'notes: applied 0003-notes-author; held back (contract): 0002-drop-legacy\n' +
        'contract migrations wait: run `gatehouse migrate --contract` once every instance runs this version\n',
      stderr: '',
    });
    // The previous version's column is still there for its instances.
    expect(columns(deployment)).toEqual(['id', 'body', 'legacy', 'author']);

    const contract = await migrate(deployment, set(v2), ['--contract', '--json']);
    expect(contract.code).toBe(0);
    expect(JSON.parse(contract.stdout)).toEqual({
      contract: true,
      components: [
        { component: 'notes', store: 'deployment', applied: ['0002-drop-legacy'], heldBack: [], newer: [] },
      ],
    });
    expect(columns(deployment)).toEqual(['id', 'body', 'author']);
    expect(histories(join(deployment.dataDir, 'gatehouse.db'))).toEqual({
      notes_migrations: ['0001-notes', '0002-drop-legacy', '0003-notes-author'],
    });
  });

  it('run by the previous version on the upgraded schema: up to date, the newer migrations named', async () => {
    const deployment = await deploymentWith(MINIMAL_CONFIG);
    await migrate(deployment, set(v1));
    await migrate(deployment, set(v2));
    expect(await migrate(deployment, set(v1))).toMatchObject({
      code: 0,
      stdout: 'notes: up to date; schema ahead of this version: 0003-notes-author\n',
    });
  });
});

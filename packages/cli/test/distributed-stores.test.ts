import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { requireService, serviceUrl } from '@gatehouse/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDeployment, type TestDeployment } from './helpers/cli.js';

const postgres = await requireService('postgres', 'CLI on PostgreSQL + Redis');
const redis = await requireService('redis', 'CLI on PostgreSQL + Redis');

describe.skipIf(!postgres.available || !redis.available)('CLI on DATABASE_URL and REDIS_URL', () => {
  const schema = `cli_${randomBytes(6).toString('hex')}`;
  let deployment: TestDeployment;
  let env: Record<string, string>;

  async function query(text: string): Promise<pg.QueryResult> {
    const client = new pg.Client({ connectionString: serviceUrl('postgres') });
    await client.connect();
    try {
      return await client.query(text);
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    await query(`CREATE SCHEMA ${schema}`);
    const url = new URL(serviceUrl('postgres'));
    url.searchParams.set('options', `-c search_path=${schema}`);
    env = { DATABASE_URL: url.toString(), REDIS_URL: serviceUrl('redis') };
    deployment = await createTestDeployment();
  });
  afterAll(async () => {
    await deployment.remove();
    await query(`DROP SCHEMA ${schema} CASCADE`);
  });

  it('the environment overrides the embedded stores: clients, users and keys live in PostgreSQL', async () => {
    const created = await deployment.run(
      ['clients', 'create', '--name', 'pg', '--grant', 'client_credentials', '--json'],
      { env },
    );
    expect(created.code).toBe(0);
    const { client_id: clientId } = JSON.parse(created.stdout) as { client_id: string };
    const user = await deployment.run(['users', 'create', '--username', 'pat'], {
      env,
      stdin: 'pat password 1',
    });
    expect(user.code).toBe(0);
    const rotated = await deployment.run(['keys', 'rotate'], { env });
    expect(rotated.code).toBe(0);

    const clients = await query(`SELECT client_id FROM ${schema}.clients`);
    expect(clients.rows).toEqual([{ client_id: clientId }]);
    const users = await query(`SELECT username FROM ${schema}.users`);
    expect(users.rows).toEqual([{ username: 'pat' }]);
    const keys = await query(`SELECT status FROM ${schema}.signing_keys ORDER BY generation`);
    expect(keys.rows).toEqual([{ status: 'active' }, { status: 'pending' }]);
    // Nothing went to SQLite; audit events are spooled in the data dir and shipped to PostgreSQL.
    expect(existsSync(join(deployment.dataDir, 'gatehouse.db'))).toBe(false);
    expect(existsSync(join(deployment.dataDir, 'audit-spool', 'cli.jsonl'))).toBe(true);
    const audited = await query(`SELECT action FROM ${schema}.audit_log ORDER BY seq`);
    expect(audited.rows).toContainEqual({ action: 'admin.user.create' });
    const verified = await deployment.run(['audit', 'verify'], { env });
    expect(verified).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^ok, \d+ records, 0 checkpoints\n$/),
    });

    const listed = await deployment.run(['clients', 'list', '--json'], { env });
    expect(JSON.parse(listed.stdout)).toMatchObject({ clients: [{ client_id: clientId }] });
    const check = await deployment.run(['keys', 'check'], { env });
    expect(check.code).toBe(0);
  });
});

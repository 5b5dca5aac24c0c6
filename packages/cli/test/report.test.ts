import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createAuditStore } from '@gatehouse/audit';
import { openSqlDatabase, type AuditEvent } from '@gatehouse/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { MINIMAL_CONFIG, createTestDeployment, type TestDeployment } from './helpers/cli.js';

/**
 * `gatehouse report access|incidents` over a deployment's audit store: the records of one subject or
 * of the incidents of a period, in each format.
 */
const T0 = Date.UTC(2026, 10, 1);
const at = (minutes: number): string => new Date(T0 + minutes * 60_000).toISOString();

const EVENTS: AuditEvent[] = [
  {
    time: at(0),
    action: 'login.success',
    outcome: 'success',
    component: 'auth-server',
    actor: { sub: 'alice' },
  },
  { time: at(1), action: 'token.issue', outcome: 'success', component: 'auth-server', actor: { sub: 'bob' } },
  {
    time: at(2),
    action: 'login.lockout',
    outcome: 'failure',
    component: 'auth-server',
    target: { type: 'user', id: 'alice' },
  },
  {
    time: at(3),
    action: 'gateway.ban.add',
    outcome: 'success',
    component: 'gateway',
    target: { type: 'ip', id: '203.0.113.9' },
  },
];

let deployment: TestDeployment;

beforeAll(async () => {
  deployment = await createTestDeployment();
  // Any command creates the stores (the audit store with them).
  expect((await deployment.run(['clients', 'list'])).code).toBe(0);
  const database = openSqlDatabase({ sqliteFile: join(deployment.dataDir, 'gatehouse.db') });
  try {
    await createAuditStore(database.db).append(EVENTS.map((event, i) => ({ id: `report-${i}`, event })));
  } finally {
    await database.close();
  }
});

afterAll(async () => {
  await deployment.remove();
});

interface JsonReport {
  report: string;
  scope: Record<string, string>;
  count: number;
  records: { action: string }[];
}

describe('gatehouse report', () => {
  it('access: what alice did and what was done to her account (json, the default)', async () => {
    const result = await deployment.run(['report', 'access', '--subject', 'alice']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as JsonReport;
    expect(report).toMatchObject({ report: 'access', scope: { subject: 'alice' }, count: 2 });
    expect(report.records.map((r) => r.action)).toEqual(['login.success', 'login.lockout']);
  });

  it('incidents of a period as CSV: a header row, one row per record', async () => {
    const result = await deployment.run([
      'report',
      'incidents',
      '--from',
      at(0),
      '--to',
      at(10),
      '--format',
      'csv',
    ]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\r\n');
    expect(lines[0]).toMatch(/^seq,@timestamp,event\.action,/);
    expect(lines.slice(1).map((line) => line.split(',')[2])).toEqual(['login.lockout', 'gateway.ban.add']);
  });

  it('access as a self-contained HTML page', async () => {
    const result = await deployment.run(['report', 'access', '--subject', 'bob', '--format', 'html']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^<!doctype html>/);
    expect(result.stdout).toContain('<td>token.issue</td>');
    expect(result.stdout).not.toContain('<script');
  });

  it.each([
    { argv: ['report', 'access'], says: /--subject is required/ },
    { argv: ['report', 'incidents', '--from', 'yesterday'], says: /--from must be an ISO 8601 time/ },
    { argv: ['report', 'incidents', '--format', 'pdf'], says: /--format must be one of/ },
  ])('refuses $argv (exit 2)', async ({ argv, says }) => {
    const result = await deployment.run(argv);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(says);
  });
});

describe('gatehouse report access with pseudonymisation', () => {
  const PSEUDONYMIZED = `${MINIMAL_CONFIG}audit:
  pseudonymize: { sourceIp: true, subject: true }
`;
  let own: TestDeployment;
  beforeAll(async () => {
    own = await createTestDeployment(PSEUDONYMIZED);
  });
  afterAll(async () => {
    await own.remove();
  });

  it('stores no subject in clear, creates the key 0600 beside the data, and still finds the subject', async () => {
    const created = await own.run(['users', 'create', '--username', 'dora', '--json'], {
      stdin: 'a long passphrase 42\n',
    });
    expect(created.code).toBe(0);
    const sub = (JSON.parse(created.stdout) as { sub: string }).sub;
    expect((await stat(join(own.dataDir, 'audit-pseudonym.key'))).mode & 0o777).toBe(0o600);
    const database = openSqlDatabase({ sqliteFile: join(own.dataDir, 'gatehouse.db') });
    try {
      const rows = await sql<{ target_id: string | null }>`select target_id from audit_log`.execute(
        database.db,
      );
      expect(rows.rows.map((row) => row.target_id)).not.toContain(sub);
      expect(rows.rows.some((row) => row.target_id?.startsWith('ps_') === true)).toBe(true);
    } finally {
      await database.close();
    }
    const result = await own.run(['report', 'access', '--subject', sub]);
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as JsonReport).records.map((r) => r.action)).toContain(
      'admin.user.create',
    );
  });
});

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readAuditEvents, withDatabase } from './helpers/audit.js';
import { builtOrSkip, childEnv, distOf, startBinary, type Started } from './helpers/binary.js';
import { createTestDeployment, type TestDeployment } from './helpers/cli.js';

interface ExportedDoc {
  readonly '@timestamp': string;
  readonly event: { readonly action: string; readonly sequence: number; readonly hash: string };
}

describe('gatehouse audit verify|export', () => {
  let deployment: TestDeployment | undefined;
  afterEach(async () => {
    await deployment?.remove();
    deployment = undefined;
  });

  it('verify reports an intact log; export prints ECS JSON lines, filtered by time', async () => {
    deployment = await createTestDeployment();
    expect((await deployment.run(['clients', 'list'])).code).toBe(0);
    expect((await deployment.run(['users', 'list'])).code).toBe(0);

    const verified = await deployment.run(['audit', 'verify']);
    expect(verified).toMatchObject({ code: 0, stdout: 'ok, 2 records, 0 checkpoints\n' });
    const json = await deployment.run(['audit', 'verify', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, checked: 2, checkpoints: 0, head: { seq: 2 } });

    const exported = await deployment.run(['audit', 'export']);
    expect(exported.code).toBe(0);
    const docs = exported.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as ExportedDoc);
    expect(docs.map((doc) => [doc.event.action, doc.event.sequence])).toEqual([
      ['admin.client.list', 1],
      ['admin.user.list', 2],
    ]);
    expect(docs[0]).toMatchObject({ ecs: { version: expect.any(String) }, '@timestamp': expect.any(String) });
    expect(docs[0]!.event.hash).toMatch(/^[0-9a-f]{64}$/);

    const future = await deployment.run(['audit', 'export', '--from', '2999-01-01T00:00:00Z']);
    expect(future).toMatchObject({ code: 0, stdout: '' });
    const until = await deployment.run(['audit', 'export', '--to', docs[1]!['@timestamp']]);
    expect(until.stdout.trimEnd().split('\n').length).toBeLessThanOrEqual(2);
    const bad = await deployment.run(['audit', 'export', '--from', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--from must be an ISO 8601 time/);
  });

  it('verify exits 1 and names the first problem after a row is altered with raw SQL', async () => {
    deployment = await createTestDeployment();
    for (let i = 0; i < 3; i++) expect((await deployment.run(['clients', 'list'])).code).toBe(0);
    await withDatabase(deployment, (db) =>
      sql`update audit_log set outcome = 'failure' where seq = 2`.execute(db),
    );
    const result = await deployment.run(['audit', 'verify']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^FAILED at seq 2: altered: /);
    const json = await deployment.run(['audit', 'verify', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, firstProblem: { seq: 2, kind: 'altered' } });
  });

  it('verify exits 1 after a row is deleted, and reads the store only (nothing shipped first)', async () => {
    deployment = await createTestDeployment();
    for (let i = 0; i < 3; i++) expect((await deployment.run(['clients', 'list'])).code).toBe(0);
    await withDatabase(deployment, (db) => sql`delete from audit_log where seq = 2`.execute(db));
    const result = await deployment.run(['audit', 'verify']);
    expect(result).toMatchObject({ code: 1 });
    expect(result.stdout).toMatch(/^FAILED at seq 2: removed: /);
    // verify itself added no event.
    expect(await readAuditEvents(deployment.dataDir)).toHaveLength(2);
  });

  it('verify on a data dir without an audit store says so (exit 1)', async () => {
    deployment = await createTestDeployment();
    const result = await deployment.run(['audit', 'verify']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/no audit store/);
  });
});

const built = builtOrSkip(
  'audit with the built auth server',
  distOf(['auth-server', 'audit', 'core', 'guard']),
);

const SERVER_CONFIG = [
  'log:',
  '  level: warn',
  'admin:',
  '  token: ${GATEHOUSE_ADMIN_TOKEN}',
  '  listen:',
  '    port: 0',
  'audit:',
  '  checkpointIntervalSec: 1',
  '  sinks:',
  '    - type: file',
  '      id: local',
  '      path: siem/audit.jsonl',
  '      batch: { maxWaitMs: 50 }',
  '      pollIntervalMs: 100',
  'authServer:',
  '  issuer: http://127.0.0.1:4000',
  '  listen:',
  '    port: 0',
  '  resources:',
  '    - id: https://api.example.com',
  '      scopes: [accounts:read]',
  '',
].join('\n');

function startServer(deployment: TestDeployment): Promise<Started> {
  return startBinary(
    ['auth-server', '--config', deployment.configFile],
    deployment.dir,
    (stderr) => {
      const url = /listening on (http:\/\/\S+)/.exec(stderr)?.[1];
      const admin = /admin API on (http:\/\/\S+)\/admin/.exec(stderr)?.[1];
      return url === undefined || admin === undefined ? undefined : { url, admin };
    },
    childEnv(),
  );
}

async function eventually<T>(check: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 1000; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('condition not met');
}

describe.skipIf(!built)('the audit store under a real auth server (built binary)', () => {
  let deployment: TestDeployment;
  let server: Started | undefined;
  let client: { client_id: string; client_secret: string };

  beforeAll(async () => {
    deployment = await createTestDeployment(SERVER_CONFIG);
    const created = await deployment.run([
      'clients',
      'create',
      '--name',
      'load',
      '--grant',
      'client_credentials',
      '--scope',
      'accounts:read',
      '--resource',
      'https://api.example.com',
      '--json',
    ]);
    expect(created.code).toBe(0);
    client = JSON.parse(created.stdout) as typeof client;
  });
  afterAll(async () => {
    if (server !== undefined && server.child.exitCode === null) server.child.kill('SIGKILL');
    await deployment.remove();
  });

  async function issueToken(url: string): Promise<number> {
    const response = await fetch(`${url}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials&scope=accounts%3Aread',
    });
    await response.arrayBuffer();
    return response.status;
  }

  it('kill -9 under load loses no acknowledged token issuance; the restarted server ships the spool', async () => {
    server = await startServer(deployment);
    const url = server.url;
    let acknowledged = 0;
    let failed = 0;
    let stop = false;
    // Four concurrent loops of client-credentials requests until the process dies.
    const loops = Array.from({ length: 4 }, async () => {
      while (!stop) {
        try {
          if ((await issueToken(url)) === 200) acknowledged++;
        } catch {
          failed++;
          if (server!.child.exitCode !== null || server!.child.signalCode !== null) return;
        }
      }
    });
    await eventually(() => Promise.resolve(acknowledged >= 150 ? true : undefined));
    server.child.kill('SIGKILL');
    const exit = await server.exit;
    expect(exit.signal).toBe('SIGKILL');
    stop = true;
    await Promise.all(loops);
    expect(acknowledged).toBeGreaterThanOrEqual(150);

    // Restarted, the server replays its spool into the store.
    server = await startServer(deployment);
    const issued = await eventually(async () => {
      const events = await readAuditEvents(deployment.dataDir);
      const count = events.filter((event) => event.action === 'token.issue').length;
      return count >= acknowledged ? count : undefined;
    });
    // Unacknowledged requests may or may not have their event; every acknowledged one has.
    expect(issued).toBeGreaterThanOrEqual(acknowledged);
    expect(issued).toBeLessThanOrEqual(acknowledged + failed + 4);

    // A checkpoint of the head is signed (every second while it advances).
    const verified = await eventually(async () => {
      const result = await deployment.run(['audit', 'verify', '--json']);
      const parsed = JSON.parse(result.stdout) as { ok: boolean; checkpoints: number };
      return parsed.checkpoints >= 1 ? { code: result.code, parsed } : undefined;
    });
    expect(verified.code).toBe(0);
    expect(verified.parsed.ok).toBe(true);
  });

  it('the file sink configured in the deployment receives every event, in store order', async () => {
    expect(await issueToken(server!.url)).toBe(200);
    const head = (await readAuditEvents(deployment.dataDir)).length;
    const lines = await eventually(async () => {
      const text = await readFile(join(deployment.dir, 'siem', 'audit.jsonl'), 'utf8').catch(() => '');
      const docs = text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { event: { sequence: number; action: string } });
      return docs.length > 0 && docs[docs.length - 1]!.event.sequence >= head ? docs : undefined;
    });
    const sequences = [...new Set(lines.map((doc) => doc.event.sequence))];
    expect(sequences).toEqual(Array.from({ length: sequences.length }, (_, i) => i + 1));
    expect(lines.some((doc) => doc.event.action === 'token.issue')).toBe(true);
  });

  it('a graceful stop ships and checkpoints; a checkpoint after its key was revoked is not trusted', async () => {
    server!.child.kill('SIGTERM');
    expect((await server!.exit).code).toBe(0);
    server = undefined;
    const result = await deployment.run(['audit', 'verify']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ok, \d+ records, \d+ checkpoints\n$/);

    // The key is declared compromised before the latest checkpoint was signed: that one fails.
    await withDatabase(deployment, async (db) => {
      const latest = await sql<{ kid: string; created_at: number }>`
        select kid, created_at from audit_checkpoints order by seq desc limit 1`.execute(db);
      const { kid, created_at: createdAt } = latest.rows[0]!;
      await sql`update signing_keys set status = 'revoked', retired_at = ${createdAt - 1}
        where kid = ${kid}`.execute(db);
    });
    const refused = await deployment.run(['audit', 'verify', '--json']);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false, firstProblem: { kind: 'bad_signature' } });
  });
});

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { AuditSigner, AuditStore } from '@gatehouse/audit';
import { createAuthServer } from '@gatehouse/auth-server';
import type { AuditEvent } from '@gatehouse/core';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { withRuntime } from '../src/commands/common.js';
import { run } from '../src/index.js';
import { loadDeployment } from '../src/config/load-deployment.js';
import type { CliIo } from '../src/io.js';
import { loadDeploymentKek } from '../src/runtime/kek.js';
import { readAuditEvents, withDatabase } from './helpers/audit.js';
import { BIN, builtOrSkip, childEnv, distOf } from './helpers/binary.js';
import { createTestDeployment, type TestDeployment } from './helpers/cli.js';

/**
 * `gatehouse audit prune` on a real SQLite data dir. Old records are written straight to the store
 * with old timestamps and signed with the deployment's own key (as the auth server signs them), then
 * pruned through the command, which signs its record with that key too.
 */

const DAY_MS = 86_400_000;

function quietIo(deployment: TestDeployment): CliIo {
  return {
    stdout: { write: () => true },
    stderr: { write: () => true },
    stdin: Readable.from([]),
    env: deployment.env,
    cwd: deployment.dir,
  };
}

/** Runs `fn` with the deployment's audit store and the auth server's key service (its signer). */
async function withSigner<T>(
  deployment: TestDeployment,
  fn: (store: AuditStore, signer: AuditSigner) => Promise<T>,
): Promise<T> {
  const io = quietIo(deployment);
  const loaded = await loadDeployment(io, {});
  const { kek } = await loadDeploymentKek(io, loaded);
  return withRuntime(io, loaded, async (runtime) => {
    const server = await createAuthServer({ ...runtime.base, config: loaded.config.authServer, kek });
    try {
      return await fn(runtime.auditStore, server.services.keys);
    } finally {
      await server.close();
    }
  });
}

function oldEvents(count: number, time: number, sub: string): { id: string; event: AuditEvent }[] {
  return Array.from({ length: count }, (_, i) => ({
    id: randomUUID(),
    event: {
      time: new Date(time + i * 1000).toISOString(),
      action: 'login.success',
      outcome: 'success',
      component: 'auth-server',
      actor: { sub },
    },
  }));
}

interface Prepared {
  /** The seq of the signed checkpoint over the old records: where a 90-day prune stops. */
  readonly throughSeq: number;
  readonly oldTime: number;
}

/**
 * The signing key and its events first, then 5 records of 120 days ago and a checkpoint over them
 * (signed now), then recent records (two admin reads).
 */
async function prepare(deployment: TestDeployment, sub = 'alice'): Promise<Prepared> {
  await withSigner(deployment, () => Promise.resolve());
  const oldTime = Date.now() - 120 * DAY_MS;
  const throughSeq = await withSigner(deployment, async (store, signer) => {
    const { seqs } = await store.append(oldEvents(5, oldTime, sub));
    const checkpoint = await store.checkpoint(signer);
    expect(checkpoint?.seq).toBe(seqs.at(-1));
    return checkpoint!.seq;
  });
  for (let i = 0; i < 2; i++) expect((await deployment.run(['clients', 'list'])).code).toBe(0);
  return { throughSeq, oldTime };
}

const checkpointSeqs = (deployment: TestDeployment): Promise<number[]> =>
  withDatabase(deployment, async (db) =>
    (
      await sql<{ seq: number | string }>`select seq from audit_checkpoints order by seq`.execute(db)
    ).rows.map((r) => Number(r.seq)),
  );

const SINK_CONFIG = `authServer:
  issuer: http://127.0.0.1:4000
  listen:
    port: 0
admin:
  token: \${GATEHOUSE_ADMIN_TOKEN}
  listen:
    port: 0
audit:
  sinks:
    - type: file
      id: local
      path: siem/audit.jsonl
`;

describe('gatehouse audit prune', () => {
  let deployment: TestDeployment | undefined;
  afterEach(async () => {
    await deployment?.remove();
    deployment = undefined;
  });

  it('dry run changes nothing; --yes prunes through the signed checkpoint, records it, and verify still passes', async () => {
    deployment = await createTestDeployment();
    const { throughSeq } = await prepare(deployment);
    const before = await readAuditEvents(deployment.dataDir);

    // Without --yes (and not a dry run): refused before anything is opened.
    const refused = await deployment.run(['audit', 'prune', '--before', '90d']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/audit prune deletes records: pass --yes/);

    const dry = await deployment.run(['audit', 'prune', '--before', '90d', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(
      new RegExp(
        `^Would prune ${throughSeq} record\\(s\\), seq 1 to ${throughSeq}, through the checkpoint at seq ${throughSeq} \\(signed \\S+Z by \\S+\\), the newest over a record written before \\S+Z\\.\\n  Dry run: nothing removed\\.\\n$`,
      ),
    );
    const dryJson = await deployment.run(['audit', 'prune', '--before', '90d', '--dry-run', '--json']);
    expect(JSON.parse(dryJson.stdout)).toMatchObject({
      dryRun: true,
      firstSeq: 1,
      throughSeq,
      rows: throughSeq,
      pruned: 0,
      checkpoint: { seq: throughSeq, kid: expect.any(String), createdAt: expect.any(String) },
    });
    // The dry run neither removed nor added a record (it reads only: no spool, no event).
    expect(await readAuditEvents(deployment.dataDir)).toEqual(before);

    const pruned = await deployment.run(['audit', 'prune', '--before', '90d', '--yes']);
    expect(pruned.code).toBe(0);
    const head = before.length;
    expect(pruned.stdout).toMatch(
      new RegExp(
        `^Pruned ${throughSeq} record\\(s\\), seq 1 to ${throughSeq}, through the checkpoint at seq ${throughSeq} `,
      ),
    );
    expect(pruned.stdout).toMatch(
      new RegExp(
        `\\n  Recorded as audit\\.prune at seq ${head + 1}, signed in the checkpoint at seq ${head + 1} \\(\\S+\\)\\.\\n$`,
      ),
    );

    // verify passes: the log starts after the checkpoint at throughSeq and the prune record says why.
    const verified = await deployment.run(['audit', 'verify', '--json']);
    expect(verified.code).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, head: { seq: head + 1 } });

    const after = await withDatabase(
      deployment,
      async (db) =>
        (
          await sql<{
            seq: number | string;
            action: string;
            component: string;
            actor_sub: string | null;
            details: string;
          }>`
        select seq, action, component, actor_sub, details from audit_log order by seq`.execute(db)
        ).rows,
    );
    expect(Number(after[0]!.seq)).toBe(throughSeq + 1);
    const record = after.find((row) => row.action === 'audit.prune');
    expect(record).toMatchObject({ component: 'audit', actor_sub: 'cli' });
    expect(Number(record!.seq)).toBe(head + 1);
    expect(JSON.parse(record!.details)).toMatchObject({ firstSeq: 1, throughSeq });
    // A signed checkpoint anchors the start, and another signs over the prune record.
    const checkpoints = await checkpointSeqs(deployment);
    expect(checkpoints).toContain(throughSeq);
    expect(checkpoints.at(-1)).toBe(head + 1);
    expect(checkpoints.indexOf(throughSeq)).toBeLessThan(checkpoints.indexOf(head + 1));

    // Once is enough.
    const again = await deployment.run(['audit', 'prune', '--before', '90d', '--yes']);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(
      `Nothing to prune before ${/before (\S+):/.exec(again.stdout)?.[1] ?? ''}: records through seq ${throughSeq} are pruned already and no later checkpoint covers a record written before ${/written before (\S+)\.\n/.exec(again.stdout)?.[1] ?? ''}.\n`,
    );
  });

  it('a report over the pruned period says it is before the retention horizon', async () => {
    deployment = await createTestDeployment();
    const { oldTime } = await prepare(deployment, 'carol');
    const from = new Date(oldTime - DAY_MS).toISOString();
    const to = new Date(oldTime + DAY_MS).toISOString();
    const beforePrune = await deployment.run([
      'report',
      'access',
      '--subject',
      'carol',
      '--from',
      from,
      '--to',
      to,
    ]);
    expect(JSON.parse(beforePrune.stdout)).toMatchObject({ count: 5 });
    expect(JSON.parse(beforePrune.stdout)).not.toHaveProperty('warnings');
    expect(beforePrune.stderr).toBe('');

    expect((await deployment.run(['audit', 'prune', '--before', '90d', '--yes'])).code).toBe(0);
    const report = await deployment.run([
      'report',
      'access',
      '--subject',
      'carol',
      '--from',
      from,
      '--to',
      to,
    ]);
    expect(report.code).toBe(0);
    const body = JSON.parse(report.stdout) as Record<string, unknown>;
    expect(body).toMatchObject({
      count: 0,
      retention: { prunedThroughSeq: expect.any(Number), horizon: expect.any(String) },
      warnings: [
        expect.stringMatching(
          /^the period is before the retention horizon: records through seq \d+ were pruned/,
        ),
      ],
    });
    expect(report.stderr).toMatch(/^WARNING: the period is before the retention horizon/);
    const html = await deployment.run(['report', 'access', '--subject', 'carol', '--format', 'html']);
    expect(html.stdout).toMatch(
      /<p role="alert"><strong>Warning:<\/strong> the period starts before the retention horizon/,
    );
    // A period after the horizon is complete: no warning.
    const recent = await deployment.run(['report', 'incidents', '--from', new Date().toISOString()]);
    expect(recent.stderr).toBe('');
    expect(JSON.parse(recent.stdout)).not.toHaveProperty('warnings');
  });

  it('holds back while a configured sink has not delivered the records (exit 1)', async () => {
    deployment = await createTestDeployment(SINK_CONFIG);
    const { throughSeq } = await prepare(deployment);
    const held = await deployment.run(['audit', 'prune', '--before', '90d', '--yes']);
    expect(held.code).toBe(1);
    expect(held.stdout).toBe(
      `Nothing to prune before ${/before (\S+):/.exec(held.stdout)?.[1] ?? ''}: audit sink local has delivered through seq 0 only; pruning through seq ${throughSeq} would drop records it has not sent.\n`,
    );
    const json = await deployment.run(['audit', 'prune', '--before', '90d', '--dry-run', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ reason: 'sink_behind', rows: 0, pruned: 0 });
    expect((await readAuditEvents(deployment.dataDir))[0]).toBeDefined();
    expect((await checkpointSeqs(deployment)).at(-1)).toBe(throughSeq);
  });

  it('refuses to prune over an unrecorded deletion of the oldest rows, which verify keeps naming', async () => {
    deployment = await createTestDeployment();
    const { throughSeq } = await prepare(deployment);
    // An intruder deleted the first two rows (no checkpoint there: the chain start is unanchored).
    await withDatabase(deployment, (db) => sql`delete from audit_log where seq <= 2`.execute(db));
    const refused = await deployment.run(['audit', 'prune', '--before', '90d', '--yes']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^gatehouse audit: pruning refused \(ERR_AUDIT_PRUNE_REFUSED\): no checkpoint anchors the log start at seq 3; gatehouse audit verify names the problem\n/m,
    );
    const verified = await deployment.run(['audit', 'verify', '--json']);
    expect(verified.code).toBe(1);
    expect(JSON.parse(verified.stdout)).toMatchObject({
      ok: false,
      firstProblem: { seq: 1, kind: 'removed' },
    });
    expect((await readAuditEvents(deployment.dataDir)).some((e) => e.action === 'audit.prune')).toBe(false);
    expect(throughSeq).toBeGreaterThan(2);
  });

  it('says why when there is nothing to prune', async () => {
    deployment = await createTestDeployment();
    expect((await deployment.run(['clients', 'list'])).code).toBe(0);
    const none = await deployment.run(['audit', 'prune', '--before', '2026-01-01', '--dry-run']);
    expect(none).toMatchObject({
      code: 0,
      stdout:
        'Nothing to prune before 2026-01-01T00:00:00Z: no signed checkpoint covers a record written before 2026-01-01T00:00:00.000Z.\n',
    });
  });

  const usageErrors = [
    { argv: ['--dry-run'], says: /--before is required/ },
    {
      argv: ['--before', 'yesterday', '--dry-run'],
      says: /--before must be a number of days \(90d\), a date/,
    },
    { argv: ['--before', '90', '--dry-run'], says: /--before must be a number of days/ },
    { argv: ['--before', '2026-01-01T00:00:00', '--dry-run'], says: /an ISO 8601 time with an offset/ },
    { argv: ['--before', '2999-01-01', '--yes'], says: /--before is in the future/ },
    { argv: ['--before', '30d', '--force'], says: /Unknown option '--force'/ },
  ];
  it.each(usageErrors)('usage error: prune $argv', async ({ argv, says }) => {
    deployment = await createTestDeployment();
    const result = await deployment.run(['audit', 'prune', ...argv]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(says);
  });
});

const RETENTION_CONFIG = `${SINK_CONFIG.slice(0, SINK_CONFIG.indexOf('audit:'))}audit:
  checkpointIntervalSec: 1
  retention:
    maxAgeDays: 90
    intervalSec: 60
`;

describe('audit.retention in gatehouse auth-server', () => {
  let deployment: TestDeployment | undefined;
  afterEach(async () => {
    await deployment?.remove();
    deployment = undefined;
  });

  it('prunes the records older than maxAgeDays when it starts, with a signed prune record', async () => {
    deployment = await createTestDeployment(RETENTION_CONFIG);
    const { throughSeq } = await prepare(deployment);
    const controller = new AbortController();
    let stderr = '';
    let stdout = '';
    const done = run(['auth-server'], {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      stdin: Readable.from([]),
      env: deployment.env,
      cwd: deployment.dir,
      signal: controller.signal,
    });
    try {
      // The first run starts with the server; its log line says what it pruned.
      for (let i = 0; i < 500 && !stdout.includes('audit records pruned (retention)'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      controller.abort();
    }
    expect(await done).toBe(0);
    const line = stdout
      .split('\n')
      .filter(Boolean)
      .map((text) => JSON.parse(text) as Record<string, unknown>)
      .find((entry) => entry['msg'] === 'audit records pruned (retention)');
    expect(line).toMatchObject({ pruned: throughSeq, throughSeq });
    expect(stderr).toContain('gatehouse auth-server: stopped');
    const events = await readAuditEvents(deployment.dataDir);
    expect(events.filter((event) => event.action === 'audit.prune')).toEqual([
      expect.objectContaining({
        component: 'audit',
        actor: { sub: 'auth-server:retention' },
        reason: 'retention',
      }),
    ]);
    expect((await deployment.run(['audit', 'verify'])).code).toBe(0);
  });
});

const built = builtOrSkip(
  'audit prune across processes (built binary)',
  distOf(['auth-server', 'audit', 'core']),
);

function runBinary(
  args: readonly string[],
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.skipIf(!built)('gatehouse audit prune from several processes on one SQLite file', () => {
  let deployment: TestDeployment | undefined;
  afterEach(async () => {
    await deployment?.remove();
    deployment = undefined;
  });

  it('three processes pruning at once: one prune record, no error, verify passes', async () => {
    deployment = await createTestDeployment();
    const { throughSeq } = await prepare(deployment);
    const dir = deployment.dir;
    const results = await Promise.all(
      Array.from({ length: 3 }, () =>
        runBinary(['audit', 'prune', '--before', '90d', '--yes', '--json'], dir),
      ),
    );
    // No process failed (stderr holds at most the development warnings of the auth server's config).
    for (const result of results) {
      expect(result.code).toBe(0);
      expect(result.stderr).not.toMatch(/"level":50|Error/);
    }
    const outputs = results.map(
      (r) => JSON.parse(r.stdout) as { pruned: number; prunedElsewhere?: boolean; reason?: string },
    );
    // One pruned; the others lost the race or found the rows gone already.
    expect(outputs.filter((o) => o.pruned > 0)).toEqual([expect.objectContaining({ pruned: throughSeq })]);
    const events = await readAuditEvents(deployment.dataDir);
    expect(events.filter((event) => event.action === 'audit.prune')).toHaveLength(1);
    expect((await deployment.run(['audit', 'verify'])).code).toBe(0);
  });
});

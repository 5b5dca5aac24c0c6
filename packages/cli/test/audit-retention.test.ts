import { generateKeyPairSync, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createAuditJwsSigner,
  createAuditStore,
  migrateAudit,
  verifyAuditLog,
  type AuditSigner,
  type AuditStore,
} from '@gatehouse/audit';
import { createLogger, openSqlDatabase, type AuditEvent, type SqlDatabase } from '@gatehouse/core';
import { requireService, serviceUrl } from '@gatehouse/testing';
import { sql } from 'kysely';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DAY_MS,
  planAuditPrune,
  pruneAuditLog,
  RETENTION_PRUNE_ACTOR,
  startAuditRetention,
  type AuditRetention,
  type SinkPosition,
} from '../src/runtime/audit-retention.js';

/**
 * The retention job of the auth server (`audit.retention`) over a real audit store — a SQLite file
 * and a PostgreSQL schema — with an injected clock: records written "now" are pruned once the
 * clock is moved past maxAgeDays, through a signed checkpoint, and the log still verifies.
 */
const postgres = await requireService('postgres', 'audit retention on PostgreSQL');
const ENGINES = [
  ['sqlite', true],
  ['postgres', postgres.available],
] as const;

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: serviceUrl('postgres') });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

interface Backing {
  open(): SqlDatabase<unknown>;
  release(): Promise<void>;
}

async function openBacking(engine: 'sqlite' | 'postgres'): Promise<Backing> {
  const handles: SqlDatabase<unknown>[] = [];
  let location: { sqliteFile?: string; url?: string };
  let cleanup: () => Promise<void>;
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-retention-'));
    location = { sqliteFile: join(dir, 'gatehouse.db') };
    cleanup = () => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    };
  } else {
    const schema = `retention_${randomBytes(6).toString('hex')}`;
    await adminQuery(`CREATE SCHEMA ${schema}`);
    const url = new URL(serviceUrl('postgres'));
    url.searchParams.set('options', `-c search_path=${schema}`);
    location = { url: url.toString() };
    cleanup = () => adminQuery(`DROP SCHEMA ${schema} CASCADE`);
  }
  const open = (): SqlDatabase<unknown> => {
    const handle = openSqlDatabase<unknown>({ ...location, poolSize: 4 });
    handles.push(handle);
    return handle;
  };
  await migrateAudit(open().db);
  return {
    open,
    release: async () => {
      await Promise.all(handles.map((h) => h.close()));
      await cleanup();
    },
  };
}

/** A checkpoint signer over a raw ES256 key, and the resolver the verifier needs for it. */
function createTestSigner(): { signer: AuditSigner; resolveKey: (kid: string) => KeyObject | undefined } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = `test-${randomBytes(4).toString('hex')}`;
  return {
    signer: createAuditJwsSigner({
      kid,
      alg: 'ES256',
      sign: (input) => Promise.resolve(sign('sha256', input, { key: privateKey, dsaEncoding: 'ieee-p1363' })),
    }),
    resolveKey: (k) => (k === kid ? publicKey : undefined),
  };
}

function events(count: number, time: number): { id: string; event: AuditEvent }[] {
  return Array.from({ length: count }, (_, i) => ({
    id: randomUUID(),
    event: {
      time: new Date(time + i).toISOString(),
      action: 'token.issue',
      outcome: 'success',
      component: 'auth-server',
      actor: { sub: `user-${i}`, clientId: 'app' },
    },
  }));
}

function captureLogger(): {
  logger: ReturnType<typeof createLogger>;
  lines: () => Record<string, unknown>[];
} {
  let text = '';
  const logger = createLogger({
    component: 'test',
    level: 'debug',
    destination: { write: (t: string) => (text += t) },
  });
  return {
    logger,
    lines: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

async function eventually<T>(check: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('condition not met');
}

const T0 = Date.UTC(2026, 0, 1);

describe.each(ENGINES)('audit retention job on %s', (engine, available) => {
  let backing: Backing;
  let store: AuditStore;
  let key: ReturnType<typeof createTestSigner>;
  let jobs: AuditRetention[] = [];
  /** The clock of the stores (checkpoint and prune record times) and of the jobs (cut-off). */
  const clock = { ms: T0 };
  const now = (): number => clock.ms;
  const openStore = (): AuditStore => createAuditStore(backing.open().db, { now });
  let mainDb: SqlDatabase<unknown>['db'];
  /**
   * Another instance's store: its own connection pool on PostgreSQL. A process holds one handle
   * per SQLite file (better-sqlite3 waits for a lock synchronously, so two handles of one process
   * would block each other); SQLite across processes is tested with the binary (audit-prune.test.ts).
   */
  const openPeer = (): AuditStore => (engine === 'sqlite' ? createAuditStore(mainDb, { now }) : openStore());

  beforeEach(async () => {
    if (!available) return;
    backing = await openBacking(engine);
    mainDb = backing.open().db;
    store = createAuditStore(mainDb, { now });
    key = createTestSigner();
    // 10 records at T0, signed; 5 more a day later, signed; 3 unsigned.
    clock.ms = T0;
    await store.append(events(10, T0));
    await store.checkpoint(key.signer);
    clock.ms = T0 + DAY_MS;
    await store.append(events(5, T0 + DAY_MS));
    await store.checkpoint(key.signer);
    clock.ms = T0 + 2 * DAY_MS;
    await store.append(events(3, T0 + 2 * DAY_MS));
  });
  afterEach(async () => {
    await Promise.all(jobs.map((job) => job.stop()));
    jobs = [];
    if (available) await backing.release();
  });

  const verify = (db = mainDb) => verifyAuditLog(db, { resolveKey: key.resolveKey });

  describe.skipIf(!available)('', () => {
    it('prunes, at its interval, the records older than maxAgeDays through the newest checkpoint before then', async () => {
      clock.ms = T0 + 20 * DAY_MS;
      const { logger, lines } = captureLogger();
      const job = startAuditRetention({
        store,
        signer: key.signer,
        maxAgeDays: 30,
        intervalSec: 0.02,
        sinkPositions: () => Promise.resolve([]),
        logger,
        now,
      });
      jobs.push(job);
      // Nothing is 30 days old yet: runs come and go, nothing is removed.
      await eventually(() =>
        Promise.resolve(lines().some((l) => l['reason'] === 'no_checkpoint') ? true : undefined),
      );
      expect((await store.read(0, 1))[0]?.seq).toBe(1);

      // 30.5 days after T0: the first 10 records are past the age; the checkpoint at 15 is not.
      clock.ms = T0 + 30.5 * DAY_MS;
      const records = await eventually(async () => {
        const all = await store.read(0, 100);
        return all[0]?.seq === 11 ? all : undefined;
      });
      // The run that pruned signs after its transaction: wait for it (a new run prunes nothing).
      await job.prune();
      expect(records.map((r) => r.seq)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19]);
      expect(records.at(-1)?.event).toMatchObject({
        action: 'audit.prune',
        component: 'audit',
        actor: RETENTION_PRUNE_ACTOR,
        target: { type: 'audit_log', id: '10' },
        reason: 'retention',
        details: { firstSeq: 1, throughSeq: 10 },
      });
      // The prune record is signed over, and the rest verifies from the checkpoint at 10.
      expect((await store.latestCheckpoint())?.seq).toBe(19);
      expect(await verify()).toMatchObject({ ok: true, checked: 9, checkpoints: 3 });
      expect(lines()).toContainEqual(
        expect.objectContaining({
          msg: 'audit records pruned (retention)',
          pruned: 10,
          throughSeq: 10,
          recordSeq: 19,
        }),
      );

      // Later runs find nothing more to prune until the next checkpoint ages.
      expect(await job.prune()).toBeUndefined();
      expect((await store.read(0, 1))[0]?.seq).toBe(11);
      clock.ms = T0 + 31.5 * DAY_MS;
      await eventually(async () => ((await store.read(0, 1))[0]?.seq === 16 ? true : undefined));
      expect(await verify()).toMatchObject({ ok: true });
    });

    it('holds back while a sink has not delivered the records, and says so', async () => {
      const sinks: SinkPosition[] = [
        { id: 'siem', cursor: 7 },
        { id: 'file', cursor: 18 },
      ];
      const { logger, lines } = captureLogger();
      clock.ms = T0 + 40 * DAY_MS;
      const job = startAuditRetention({
        store,
        signer: key.signer,
        maxAgeDays: 30,
        intervalSec: 60,
        sinkPositions: () => Promise.resolve(sinks),
        logger,
        now,
      });
      jobs.push(job);
      expect(await job.prune()).toBeUndefined();
      expect((await store.read(0, 1))[0]?.seq).toBe(1);
      expect(lines()).toContainEqual(
        expect.objectContaining({
          level: 40,
          msg: expect.stringMatching(
            /held back: audit sink siem has delivered through seq 7 only; pruning through seq 15/,
          ),
        }),
      );
      // Once it caught up, the next run prunes (through 15: both checkpoints are 30 days old).
      sinks[0] = { id: 'siem', cursor: 18 };
      expect(await job.prune()).toMatchObject({ pruned: 15, throughSeq: 15, prunedElsewhere: false });
    });

    it('never prunes over rows deleted without a prune record: the deletion stays visible', async () => {
      // An intruder deletes the oldest rows through a checkpoint, as a prune would, but unrecorded.
      await sql`delete from audit_log where seq <= 10`.execute(mainDb);
      const { logger, lines } = captureLogger();
      clock.ms = T0 + 40 * DAY_MS;
      const job = startAuditRetention({
        store,
        signer: key.signer,
        maxAgeDays: 30,
        intervalSec: 60,
        sinkPositions: () => Promise.resolve([]),
        logger,
        now,
      });
      jobs.push(job);
      expect(await job.prune()).toBeUndefined();
      expect(lines()).toContainEqual(
        expect.objectContaining({
          level: 50,
          msg: 'audit retention failed',
          err: expect.objectContaining({ code: 'ERR_AUDIT_PRUNE_REFUSED' }),
        }),
      );
      expect((await store.read(0, 1))[0]?.seq).toBe(11);
      expect((await verify()).firstProblem).toMatchObject({ seq: 1, kind: 'removed' });
    });

    it('several instances pruning at once: one prune record, no error, the log verifies', async () => {
      const cutoff = T0 + 10 * DAY_MS;
      clock.ms = T0 + 40 * DAY_MS;
      for (let round = 0; round < 3; round++) {
        // Four instances, each with its own connection, plan and prune the same checkpoint together.
        const stores = Array.from({ length: 4 }, openPeer);
        const outcomes = await Promise.all(
          stores.map(async (s) =>
            pruneAuditLog(s, key.signer, await planAuditPrune(s, cutoff), RETENTION_PRUNE_ACTOR),
          ),
        );
        const winners = outcomes.filter((o) => o !== undefined && !o.prunedElsewhere);
        expect(winners).toEqual([expect.objectContaining({ pruned: expect.any(Number) })]);
        // Nobody failed: the losers saw 0 rows or a log already pruned.
        expect(outcomes.filter((o) => o !== undefined && o.prunedElsewhere).length).toBeLessThanOrEqual(3);
        // The next round has a newer checkpoint to prune through.
        await store.append(events(4, T0 + 3 * DAY_MS + round));
        await store.checkpoint(key.signer);
      }
      const all = await store.read(0, 1000);
      const prunes = all.filter((r) => r.event.action === 'audit.prune');
      // Each prune removes the one before it; the last is there, exactly once.
      expect(prunes).toHaveLength(1);
      expect(await verify()).toMatchObject({ ok: true });
    });

    it('two retention jobs started together on one database write one prune record', async () => {
      clock.ms = T0 + 35 * DAY_MS;
      const { logger, lines } = captureLogger();
      const options = {
        signer: key.signer,
        maxAgeDays: 30,
        intervalSec: 60,
        sinkPositions: () => Promise.resolve([]),
        logger,
        now,
      };
      // Each runs at once when started: both first runs race.
      const a = startAuditRetention({ ...options, store: openPeer() });
      const b = startAuditRetention({ ...options, store: openPeer() });
      jobs.push(a, b);
      const outcomes = await Promise.all([a.prune(), b.prune()]);
      // One prunes; the other finds it done (its plan came after) or lost the race under the lock.
      expect(outcomes.filter((o) => o !== undefined && !o.prunedElsewhere)).toEqual([
        expect.objectContaining({ pruned: 15, throughSeq: 15 }),
      ]);
      const all = await store.read(0, 1000);
      expect(all.filter((r) => r.event.action === 'audit.prune')).toHaveLength(1);
      expect(lines().filter((l) => l['level'] === 50)).toEqual([]);
      expect(await verify()).toMatchObject({ ok: true });
    });
  });
});

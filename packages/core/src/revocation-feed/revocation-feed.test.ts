import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireService, serviceUrl } from '@gatehouse/testing';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlDatabase, type SqlDatabase } from '../store/sql-database.js';
import { appendRevocation } from './append-revocation.js';
import { latestRevocationCursor } from './latest-revocation-cursor.js';
import { migrateRevocationFeed } from './migrate-revocation-feed.js';
import { pruneRevocations } from './prune-revocations.js';
import { readRevocationsAfter } from './read-revocations-after.js';
import { REVOCATION_FEED_RETENTION_MS, type RevocationFeedEvent } from './revocation-feed-types.js';

const pg = await requireService('postgres', 'core revocation feed on PostgreSQL');

interface Backing {
  readonly sql: SqlDatabase<unknown>;
  release(): Promise<void>;
}

function openSqlite(): Promise<Backing> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-feed-'));
  const database = openSqlDatabase<unknown>({ sqliteFile: join(dir, 'feed.db') });
  return Promise.resolve({
    sql: database,
    release: async () => {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** A fresh schema of its own: suites running in parallel on the same database never meet. */
async function openPostgres(): Promise<Backing> {
  const schema = `feed_${randomBytes(6).toString('hex')}`;
  const admin = openSqlDatabase<unknown>({ url: serviceUrl('postgres'), poolSize: 1 });
  await sql`create schema ${sql.id(schema)}`.execute(admin.db);
  const url = new URL(serviceUrl('postgres'));
  url.searchParams.set('options', `-c search_path=${schema}`);
  const database = openSqlDatabase<unknown>({ url: url.toString(), poolSize: 4 });
  return {
    sql: database,
    release: async () => {
      await database.close();
      await sql`drop schema ${sql.id(schema)} cascade`.execute(admin.db);
      await admin.close();
    },
  };
}

const T0 = Date.UTC(2026, 0, 1);
const EVENTS: RevocationFeedEvent[] = [
  { jti: 'token-1', exp: 1_767_225_900 },
  { sid: 'session-1' },
  { sub: 'alice', issuedBefore: 1_767_225_600 },
  { kid: 'key-1' },
];

describe.each([
  { engine: 'SQLite', available: true, open: openSqlite },
  { engine: 'PostgreSQL', available: pg.available, open: openPostgres },
])('revocation feed on $engine', ({ engine, available, open }) => {
  let backing: Backing;
  let db: Kysely<unknown>;

  beforeAll(async () => {
    if (!available) return;
    backing = await open();
    db = backing.sql.db;
  });
  afterAll(async () => {
    if (available) await backing.release();
  });

  it.skipIf(!available)('migrates once, under its own history table', async () => {
    await expect(migrateRevocationFeed(db)).resolves.toEqual(['0001-revocation-feed']);
    // Several components (auth server, gateways) run it: later runs apply nothing.
    await expect(migrateRevocationFeed(db)).resolves.toEqual([]);
    const { rows } = await sql<{ name: string }>`select name from revocation_feed_migrations`.execute(db);
    expect(rows.map((r) => r.name)).toEqual(['0001-revocation-feed']);
  });

  it.skipIf(!available)('an empty feed has cursor 0 and nothing after it', async () => {
    await expect(latestRevocationCursor(db)).resolves.toBe(0);
    await expect(readRevocationsAfter(db, 0, 10)).resolves.toEqual([]);
  });

  it.skipIf(!available)(
    'appends events with increasing ids and reads them back in order, by pages',
    async () => {
      const start = await latestRevocationCursor(db);
      const ids: number[] = [];
      for (const [i, event] of EVENTS.entries()) ids.push(await appendRevocation(db, event, { now: T0 + i }));
      expect(ids.every((id, i) => id > (i === 0 ? start : ids[i - 1]!))).toBe(true);
      await expect(latestRevocationCursor(db)).resolves.toBe(ids.at(-1));

      const all = await readRevocationsAfter(db, start, 100);
      expect(all.map((entry) => entry.id)).toEqual(ids);
      // Stored as the JSON text published on the channel, byte for byte.
      expect(all.map((entry) => entry.message)).toEqual(EVENTS.map((event) => JSON.stringify(event)));
      expect(all.map((entry) => entry.createdAt)).toEqual([T0, T0 + 1, T0 + 2, T0 + 3]);

      const first = await readRevocationsAfter(db, start, 2);
      expect(first.map((entry) => entry.id)).toEqual(ids.slice(0, 2));
      const rest = await readRevocationsAfter(db, first.at(-1)!.id, 2);
      expect(rest.map((entry) => entry.id)).toEqual(ids.slice(2));
      await expect(readRevocationsAfter(db, ids.at(-1)!, 2)).resolves.toEqual([]);
    },
  );

  it.skipIf(!available)(
    "takes part in the caller's transaction: a rollback leaves nothing behind",
    async () => {
      const before = await latestRevocationCursor(db);
      await expect(
        db.transaction().execute(async (trx) => {
          await appendRevocation(trx, { jti: 'rolled-back', exp: 1 });
          throw new Error('the revocation failed');
        }),
      ).rejects.toThrow('the revocation failed');
      await expect(readRevocationsAfter(db, before, 10)).resolves.toEqual([]);
      const id = await db.transaction().execute((trx) => appendRevocation(trx, { sid: 'committed' }));
      expect((await readRevocationsAfter(db, before, 10)).map((entry) => [entry.id, entry.message])).toEqual([
        [id, '{"sid":"committed"}'],
      ]);
    },
  );

  it.skipIf(!available)('stamps the current time by default', async () => {
    const before = await latestRevocationCursor(db);
    const started = Date.now();
    await appendRevocation(db, { kid: 'now' });
    const [entry] = await readRevocationsAfter(db, before, 1);
    expect(entry!.createdAt).toBeGreaterThanOrEqual(started);
    expect(entry!.createdAt).toBeLessThanOrEqual(Date.now());
    // Recent: the default pruning (24 h, now) keeps it.
    await pruneRevocations(db);
    await expect(readRevocationsAfter(db, before, 1)).resolves.toHaveLength(1);
  });

  it.skipIf(!available)(
    'prunes rows older than the retention, and never reuses an id afterwards',
    async () => {
      const latest = await latestRevocationCursor(db);
      const now = Date.now() + 2 * REVOCATION_FEED_RETENTION_MS;
      const old = await appendRevocation(
        db,
        { jti: 'old', exp: 1 },
        { now: now - REVOCATION_FEED_RETENTION_MS - 1 },
      );
      const recent = await appendRevocation(db, { jti: 'recent', exp: 1 }, { now: now - 1000 });
      expect(old).toBeGreaterThan(latest);
      // Everything appended before this test is older still (epoch 2026 or real time).
      const deleted = await pruneRevocations(db, { now });
      expect(deleted).toBeGreaterThanOrEqual(2);
      expect((await readRevocationsAfter(db, 0, 100)).map((entry) => entry.id)).toEqual([recent]);
      await expect(pruneRevocations(db, { now, retentionMs: 500 })).resolves.toBe(1);
      await expect(latestRevocationCursor(db)).resolves.toBe(0);
      // The table is empty, yet the next id continues: a reader's cursor never points at a reused id.
      const next = await appendRevocation(db, { sid: 'after-prune' });
      expect(next).toBeGreaterThan(recent);
      await expect(readRevocationsAfter(db, recent, 10)).resolves.toHaveLength(1);
    },
  );

  it.skipIf(!available || engine !== 'PostgreSQL')(
    'concurrent appenders take turns, so ids become visible in order (no reader skips one)',
    async () => {
      const before = await latestRevocationCursor(db);
      let release: () => void = () => undefined;
      const held = new Promise<void>((resolve) => (release = resolve));
      let firstId = 0;
      const first = db.transaction().execute(async (trx) => {
        firstId = await appendRevocation(trx, { jti: 'first', exp: 1 });
        await held;
      });
      await expect.poll(() => firstId).toBeGreaterThan(0);
      let secondDone = false;
      const second = appendRevocation(db, { jti: 'second', exp: 1 }).then((id) => {
        secondDone = true;
        return id;
      });
      // The second waits for the first to commit; meanwhile readers see neither.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(secondDone).toBe(false);
      await expect(readRevocationsAfter(db, before, 10)).resolves.toEqual([]);
      release();
      await first;
      const secondId = await second;
      expect(secondId).toBeGreaterThan(firstId);
      expect((await readRevocationsAfter(db, before, 10)).map((entry) => entry.id)).toEqual([
        firstId,
        secondId,
      ]);
    },
  );
});

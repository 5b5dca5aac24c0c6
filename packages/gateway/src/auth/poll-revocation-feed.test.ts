import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  appendRevocation,
  createLogger,
  createMemorySharedState,
  migrateRevocationFeed,
  openSqlDatabase,
  type SharedState,
  type SqlDatabase,
} from '@gatehouse/core';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRevocationFeedPoller, type RevocationFeedPoller } from './poll-revocation-feed.js';

/**
 * The poller on a real SQLite file and a memory shared state whose `isUp()` the test switches:
 * what it reads at start, how often it reads while the state is up and while it is down, and how
 * it rides out a database that fails.
 */
describe('createRevocationFeedPoller', () => {
  let dir: string;
  let database: SqlDatabase<unknown>;
  let up = true;
  const state: SharedState = Object.assign(createMemorySharedState(), { isUp: () => up });
  const lines: string[] = [];
  const logger = createLogger({
    component: 'gateway',
    level: 'debug',
    destination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    }),
  });
  let poller: RevocationFeedPoller | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gateway-feed-'));
    database = openSqlDatabase<unknown>({ sqliteFile: join(dir, 'gatehouse.db') });
    await migrateRevocationFeed(database.db);
  });
  afterEach(async () => {
    await poller?.stop();
    poller = undefined;
    up = true;
  });
  afterAll(async () => {
    await state.close();
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (
    resyncMs: number,
    db = database.db,
  ): Promise<{ applied: [string, boolean][]; poller: RevocationFeedPoller }> => {
    const applied: [string, boolean][] = [];
    poller = createRevocationFeedPoller({
      db,
      state,
      logger,
      pollMs: 20,
      resyncMs,
      batchSize: 2,
      apply: (message, catchingUp) => applied.push([message, catchingUp]),
    });
    await poller.start();
    return { applied, poller };
  };

  it('creates the feed on a fresh database and applies what it holds, as catching up, in pages', async () => {
    const fresh = openSqlDatabase<unknown>({ sqliteFile: join(dir, 'fresh.db') });
    try {
      const { applied, poller: first } = await start(60_000, fresh.db);
      expect(applied).toEqual([]);
      await first.stop();
      for (const sid of ['a', 'b', 'c']) await appendRevocation(fresh.db, { sid });
      const { applied: replayed } = await start(60_000, fresh.db);
      expect(replayed).toEqual([
        ['{"sid":"a"}', true],
        ['{"sid":"b"}', true],
        ['{"sid":"c"}', true],
      ]);
      await poller?.stop();
      poller = undefined;
    } finally {
      await fresh.close();
    }
  });

  it('while the shared state is up, reads only every resyncMs; while it is down, every pollMs', async () => {
    const { applied } = await start(60_000);
    applied.length = 0;
    await appendRevocation(database.db, { sid: 'while-up' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Ten poll intervals went by: the state is up, pub/sub is trusted, the safety net is far off.
    expect(applied).toEqual([]);
    up = false;
    await expect
      .poll(() => applied, { timeout: 1000, interval: 10 })
      .toEqual([['{"sid":"while-up"}', false]]);
    await appendRevocation(database.db, { sid: 'while-down' });
    await expect.poll(() => applied.length, { timeout: 1000, interval: 10 }).toBe(2);
    expect(applied[1]).toEqual(['{"sid":"while-down"}', false]);
    expect(lines.some((line) => line.includes('shared state down'))).toBe(true);
    up = true;
    await expect
      .poll(() => lines.some((line) => line.includes('shared state back')), { timeout: 1000, interval: 10 })
      .toBe(true);
  });

  it('with process memory (no isUp: no other process hears it), reads every pollMs', async () => {
    const local = createMemorySharedState();
    const applied: string[] = [];
    poller = createRevocationFeedPoller({
      db: database.db,
      state: local,
      logger,
      pollMs: 20,
      resyncMs: 60_000,
      apply: (message) => applied.push(message),
    });
    try {
      await poller.start();
      applied.length = 0;
      await appendRevocation(database.db, { sid: 'other-process' });
      await expect.poll(() => applied, { timeout: 1000, interval: 10 }).toEqual(['{"sid":"other-process"}']);
    } finally {
      await local.close();
    }
  });

  it('reads at the resync interval while the shared state is up', async () => {
    const { applied } = await start(100);
    applied.length = 0;
    await appendRevocation(database.db, { kid: 'resync' });
    await expect.poll(() => applied, { timeout: 2000, interval: 10 }).toEqual([['{"kid":"resync"}', false]]);
  });

  it('a failing database is logged once and read again once it works; nothing is skipped', async () => {
    const { applied } = await start(60_000);
    applied.length = 0;
    up = false;
    await sql`alter table revocation_feed rename to revocation_feed_away`.execute(database.db);
    await expect
      .poll(() => lines.filter((line) => line.includes('revocation feed could not be read')).length, {
        timeout: 1000,
        interval: 10,
      })
      .toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(lines.filter((line) => line.includes('revocation feed could not be read'))).toHaveLength(1);
    await sql`alter table revocation_feed_away rename to revocation_feed`.execute(database.db);
    await appendRevocation(database.db, { sid: 'after-outage' });
    await expect
      .poll(() => applied, { timeout: 1000, interval: 10 })
      .toEqual([['{"sid":"after-outage"}', false]]);
    expect(lines.some((line) => line.includes('revocation feed readable again'))).toBe(true);
  });
});

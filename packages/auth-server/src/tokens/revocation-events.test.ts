import { Writable } from 'node:stream';
import {
  createLogger,
  createMemorySharedState,
  openSqlDatabase,
  readRevocationsAfter,
  type SharedState,
} from '@gatehouse/core';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REVOCATION_CHANNEL } from '../context.js';
import { migrateAuthServer } from '../create-auth-server.js';
import type { AuthDatabase } from '../db/schema.js';
import { revokeAndAnnounce, type RevocationEvent } from './revocation-events.js';

type Deps = Parameters<typeof revokeAndAnnounce>[0];

/** Announces one event with nothing else in its transaction. */
const publishRevocation = (deps: Deps, event: RevocationEvent): Promise<void> =>
  revokeAndAnnounce(deps, (_db, announce) => announce(event));

/**
 * Every revocation commits together with its revocation-feed rows (for gateways that missed
 * pub/sub), then is published; a failing publish never fails it, a failing feed rolls it back,
 * and the feed is pruned now and then.
 */
describe('revokeAndAnnounce', () => {
  const sql = openSqlDatabase<AuthDatabase>({ sqliteFile: ':memory:' });
  const db = sql.db;
  const lines: string[] = [];
  const logger = createLogger({
    component: 'auth-server',
    level: 'debug',
    destination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    }),
  });
  let clock = Date.UTC(2026, 0, 1);
  const now = (): number => clock;

  beforeAll(async () => {
    await migrateAuthServer(db as Kysely<unknown>);
  });
  afterAll(async () => {
    await sql.close();
  });

  it('appends to the feed first, then publishes the same JSON on the revocation channel', async () => {
    const state = createMemorySharedState();
    const heard: string[] = [];
    await state.subscribe(REVOCATION_CHANNEL, (message) => heard.push(message));
    const before = (await readRevocationsAfter(db, 0, 1000)).at(-1)?.id ?? 0;
    await publishRevocation({ db, state, logger, now }, { jti: 'j1', exp: 1_767_226_000 });
    const [entry] = await readRevocationsAfter(db, before, 10);
    expect(entry).toMatchObject({ message: '{"jti":"j1","exp":1767226000}', createdAt: clock });
    await expect.poll(() => heard).toEqual([entry!.message]);
    await state.close();
  });

  it('a failing publish is logged and the event is still in the feed', async () => {
    const state: SharedState = Object.assign(createMemorySharedState(), {
      publish: () => Promise.reject(new Error('redis down')),
    });
    const before = (await readRevocationsAfter(db, 0, 1000)).at(-1)?.id ?? 0;
    await expect(publishRevocation({ db, state, logger, now }, { sid: 's1' })).resolves.toBeUndefined();
    expect((await readRevocationsAfter(db, before, 10)).map((e) => e.message)).toEqual(['{"sid":"s1"}']);
    expect(lines.some((line) => line.includes('revocation event could not be published'))).toBe(true);
    await state.close();
  });

  it('a failing feed rolls the whole revocation back and publishes nothing', async () => {
    const broken = openSqlDatabase<AuthDatabase>({ sqliteFile: ':memory:' });
    const state = createMemorySharedState();
    const heard: string[] = [];
    await state.subscribe(REVOCATION_CHANNEL, (message) => heard.push(message));
    try {
      await migrateAuthServer(broken.db as Kysely<unknown>);
      await broken.db.schema.dropTable('revocation_feed').execute();
      const revocation = revokeAndAnnounce({ db: broken.db, state, logger, now }, async (trx, announce) => {
        await trx
          .insertInto('consents')
          .values({ sub: 'u1', client_id: 'c1', scope: 'a', granted_at: 1 })
          .execute();
        announce({ kid: 'k1' });
      });
      await expect(revocation).rejects.toThrow(/revocation_feed/);
      // The statement before the append is gone with it: nothing is in force that is not announced.
      expect(await broken.db.selectFrom('consents').selectAll().execute()).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(heard).toEqual([]);
    } finally {
      await state.close();
      await broken.close();
    }
  });

  it('a revocation that throws after announcing leaves no feed row and publishes nothing', async () => {
    const state = createMemorySharedState();
    const heard: string[] = [];
    await state.subscribe(REVOCATION_CHANNEL, (message) => heard.push(message));
    const before = (await readRevocationsAfter(db, 0, 1000)).at(-1)?.id ?? 0;
    const revocation = revokeAndAnnounce({ db, state, logger, now }, (_trx, announce) => {
      announce({ sid: 'never' });
      throw new Error('crash halfway');
    });
    await expect(revocation).rejects.toThrow('crash halfway');
    expect(await readRevocationsAfter(db, before, 10)).toEqual([]);
    expect(heard).toEqual([]);
    await state.close();
  });

  it('runs a revocation again when PostgreSQL chose it as a deadlock victim, announcing once', async () => {
    const state = createMemorySharedState();
    const before = (await readRevocationsAfter(db, 0, 1000)).at(-1)?.id ?? 0;
    let runs = 0;
    const result = await revokeAndAnnounce({ db, state, logger, now }, (_trx, announce) => {
      runs += 1;
      announce({ sid: `victim-${runs}` });
      if (runs === 1) throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
      return 'done';
    });
    expect(result).toBe('done');
    expect((await readRevocationsAfter(db, before, 10)).map((e) => e.message)).toEqual([
      '{"sid":"victim-2"}',
    ]);
    expect(lines.some((line) => line.includes('running it again'))).toBe(true);
    // Not forever: the third deadlock in a row reaches the caller.
    const always = revokeAndAnnounce({ db, state, logger, now }, () => {
      throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
    });
    await expect(always).rejects.toThrow('deadlock detected');
    await state.close();
  });

  it('prunes events older than 24 h, at most once an hour', async () => {
    const state = createMemorySharedState();
    try {
      const first = clock;
      const day = 24 * 3600 * 1000;
      clock = first + day - 1800 * 1000; // a pruning runs: the first events are not 24 h old yet
      await publishRevocation({ db, state, logger, now }, { sid: 'recent' });
      expect((await readRevocationsAfter(db, 0, 1000)).some((e) => e.createdAt === first)).toBe(true);
      clock = first + day + 1000; // the first events are now past 24 h...
      await publishRevocation({ db, state, logger, now }, { sid: 'later' });
      // ...but the last pruning was less than an hour ago.
      expect((await readRevocationsAfter(db, 0, 1000)).some((e) => e.createdAt === first)).toBe(true);
      clock += 3600 * 1000;
      await publishRevocation({ db, state, logger, now }, { sid: 'an-hour-later' });
      const left = await readRevocationsAfter(db, 0, 1000);
      expect(left.some((e) => e.createdAt === first)).toBe(false);
      expect(left.map((e) => e.message)).toEqual(
        expect.arrayContaining(['{"sid":"recent"}', '{"sid":"later"}', '{"sid":"an-hour-later"}']),
      );
    } finally {
      await state.close();
    }
  });
});

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
import { publishRevocation } from './revocation-events.js';

/**
 * Every revocation is appended to the revocation feed (for gateways that missed pub/sub), then
 * published; a failing publish or a failing feed never fails the revocation, and the feed is
 * pruned now and then.
 */
describe('publishRevocation', () => {
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

  it('a failing feed is logged and the event is still published', async () => {
    const broken = openSqlDatabase<AuthDatabase>({ sqliteFile: ':memory:' }); // never migrated
    const state = createMemorySharedState();
    const heard: string[] = [];
    await state.subscribe(REVOCATION_CHANNEL, (message) => heard.push(message));
    try {
      await publishRevocation({ db: broken.db, state, logger, now }, { kid: 'k1' });
      await expect.poll(() => heard).toEqual(['{"kid":"k1"}']);
      expect(lines.some((line) => line.includes('could not be appended to the revocation feed'))).toBe(true);
      expect(lines.some((line) => line.includes('revocation feed could not be pruned'))).toBe(true);
    } finally {
      await state.close();
      await broken.close();
    }
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

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  createLogger,
  createMemorySharedState,
  createRedisSharedState,
  openSqlDatabase,
  type Logger,
  type SharedState,
  type SqlDatabase,
} from '@gatehouse/core';
import { serviceUrl } from '@gatehouse/testing';
import { sql, type Kysely } from 'kysely';
import { migrateGateway } from '../../src/db/migrations.js';
import type { GatewayDatabase } from '../../src/db/schema.js';

export type SqlKind = 'sqlite' | 'postgres';
export type StateKind = 'memory' | 'redis';

/** A frozen clock tests move by hand; it starts at the real time so stored times stay plausible. */
export class TestClock {
  private t = Date.now();
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface BanBacking {
  readonly sql: SqlDatabase<GatewayDatabase>;
  /** Shared state of gateway instance `i` (one memory state for all; one Redis client per instance). */
  state(i: number): SharedState;
  readonly clock: TestClock;
  readonly logs: string[];
  readonly logger: Logger;
  release(): Promise<void>;
}

/** A migrated database (SQLite file or a fresh PostgreSQL schema) and shared state, as a deployment has. */
export async function openBanBacking(sqlKind: SqlKind, stateKind: StateKind): Promise<BanBacking> {
  const clock = new TestClock();
  const cleanups: (() => Promise<void> | void)[] = [];
  let database: SqlDatabase<GatewayDatabase>;
  if (sqlKind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-bans-'));
    database = openSqlDatabase<GatewayDatabase>({ sqliteFile: join(dir, 'gateway.db') });
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  } else {
    // A fresh schema keeps parallel test files apart on one PostgreSQL database.
    const schema = `gw_${randomBytes(6).toString('hex')}`;
    const admin = openSqlDatabase<unknown>({ url: serviceUrl('postgres'), poolSize: 1 });
    await sql`create schema ${sql.id(schema)}`.execute(admin.db);
    const url = new URL(serviceUrl('postgres'));
    url.searchParams.set('options', `-c search_path=${schema}`);
    database = openSqlDatabase<GatewayDatabase>({ url: url.toString(), poolSize: 4 });
    cleanups.push(async () => {
      await sql`drop schema ${sql.id(schema)} cascade`.execute(admin.db);
      await admin.close();
    });
  }
  cleanups.unshift(() => database.close());
  await migrateGateway(database.db as Kysely<unknown>);

  const states: SharedState[] = [];
  const prefix = `test:${randomBytes(6).toString('hex')}:`;
  const memory = stateKind === 'memory' ? createMemorySharedState({ now: clock.now }) : undefined;
  if (memory !== undefined) states.push(memory);
  else
    for (let i = 0; i < 3; i++)
      states.push(await createRedisSharedState({ url: serviceUrl('redis'), prefix }));
  cleanups.unshift(async () => {
    await Promise.all(states.map((state) => state.close()));
  });

  const logs: string[] = [];
  const logger = createLogger({
    component: 'gateway',
    level: 'debug',
    destination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(chunk.toString('utf8'));
        done();
      },
    }),
  });
  return {
    sql: database,
    state: (i) => states[i % states.length]!,
    clock,
    logs,
    logger,
    release: async () => {
      for (const cleanup of cleanups) await cleanup();
    },
  };
}

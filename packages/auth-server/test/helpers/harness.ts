import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import {
  createLogger,
  createMemorySharedState,
  createRedisSharedState,
  openSqlDatabase,
  type AuditEvent,
  type SharedState,
  type SqlDatabase,
} from '@gatehouse/core';
import { requireService, serviceUrl } from '@gatehouse/testing';
import pg from 'pg';
import { describe } from 'vitest';
import {
  buildAuthServerConfig,
  createAuthServer,
  type AuthServer,
  type AuthServerConfigInput,
  type AuthServerDeps,
} from '../../src/index.js';
import type { AuthDatabase } from '../../src/db/schema.js';

/** The store combinations every auth-server suite runs against (issue 3: both engines, both states). */
export const STORES = [
  { name: 'SQLite + memory', sql: 'sqlite', state: 'memory' },
  { name: 'PostgreSQL + Redis', sql: 'postgres', state: 'redis' },
] as const;
export type StoreSetup = (typeof STORES)[number];

const postgres = await requireService('postgres', 'auth-server suites on PostgreSQL');
const redis = await requireService('redis', 'auth-server suites on Redis');

/** Runs `fn` once per store combination, skipping (with a printed reason) those whose services are absent. */
export function describeEachStore(title: string, fn: (stores: StoreSetup) => void): void {
  for (const stores of STORES) {
    const available = stores.sql === 'sqlite' || (postgres.available && redis.available);
    describe.skipIf(!available)(`${title} [${stores.name}]`, () => {
      fn(stores);
    });
  }
}

/** A clock tests move by hand. */
export class TestClock {
  ms: number;
  constructor(ms = Date.UTC(2026, 0, 1)) {
    this.ms = ms;
  }
  readonly now = (): number => this.ms;
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

export interface TestAuthServer {
  readonly server: AuthServer;
  /** Base URL (the issuer). */
  readonly url: string;
  readonly deps: AuthServerDeps;
  readonly clock: TestClock;
  readonly audit: AuditEvent[];
  readonly logs: string[];
  close(): Promise<void>;
}

export interface StartOptions {
  readonly stores?: StoreSetup;
  readonly config?: Partial<AuthServerConfigInput>;
  readonly clock?: TestClock;
  /** Reuse the database and state of another server (several instances on one store). */
  readonly shareWith?: TestAuthServer;
  /** SQLite stores only: this file instead of `:memory:` (another server may open it too). */
  readonly sqliteFile?: string;
  /** Key-encryption key (default TEST_KEK). */
  readonly kek?: Uint8Array;
  /** Folder the config's relative file paths (TLS files) are resolved against. */
  readonly baseDir?: string;
}

interface Backing {
  readonly sql: SqlDatabase<AuthDatabase>;
  readonly state: SharedState;
  readonly release: () => Promise<void>;
}

async function openBacking(stores: StoreSetup, sqliteFile = ':memory:'): Promise<Backing> {
  if (stores.sql === 'sqlite') {
    const sql = openSqlDatabase<AuthDatabase>({ sqliteFile });
    const state = createMemorySharedState();
    return {
      sql,
      state,
      release: async () => Promise.all([sql.close(), state.close()]).then(() => undefined),
    };
  }
  // A fresh schema per server keeps parallel test files apart on one PostgreSQL database.
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serviceUrl('postgres') });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const url = new URL(serviceUrl('postgres'));
  // No parallel workers: one started while another test file drops its schema fails with "schema does not exist".
  url.searchParams.set('options', `-c search_path=${schema} -c max_parallel_workers_per_gather=0`);
  const sql = openSqlDatabase<AuthDatabase>({ url: url.toString(), poolSize: 5 });
  const state = await createRedisSharedState({ url: serviceUrl('redis'), prefix: `test:${schema}:` });
  return {
    sql,
    state,
    release: async () => {
      await Promise.all([sql.close(), state.close()]);
      const cleanup = new pg.Client({ connectionString: serviceUrl('postgres') });
      await cleanup.connect();
      await cleanup.query(`DROP SCHEMA ${schema} CASCADE`);
      await cleanup.end();
    },
  };
}

/** The 32-byte test key-encryption key (tests only; production reads GATEHOUSE_KEK or a key file). */
export const TEST_KEK = Buffer.alloc(32, 7);

/**
 * Starts a real authorization server on 127.0.0.1, port 0, with real stores. The issuer is the
 * bound URL, so discovery and every endpoint are what a client would see.
 */
export async function startAuthServer(options: StartOptions = {}): Promise<TestAuthServer> {
  const stores = options.stores ?? STORES[0];
  const clock = options.clock ?? options.shareWith?.clock ?? new TestClock();
  const backing = options.shareWith === undefined ? await openBacking(stores, options.sqliteFile) : undefined;
  const sql = backing?.sql ?? { db: options.shareWith!.deps.db, engine: options.shareWith!.deps.engine };
  const state = backing?.state ?? options.shareWith!.deps.state;
  const audit: AuditEvent[] = [];
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  // Listen first on a free port so the issuer can be the real URL.
  const probe = await import('node:net').then(
    ({ createServer }) =>
      new Promise<number>((resolve) => {
        const s = createServer();
        s.listen(0, '127.0.0.1', () => {
          const port = (s.address() as { port: number }).port;
          s.close(() => resolve(port));
        });
      }),
  );
  // With listen.tls the issuer is https (the schema refuses an http issuer on a TLS listener).
  const scheme = options.config?.listen?.tls === undefined ? 'http' : 'https';
  const issuer = `${scheme}://127.0.0.1:${probe}`;
  const config = buildAuthServerConfig({
    issuer,
    ...options.config,
    listen: { host: '127.0.0.1', port: probe, ...options.config?.listen },
  });
  const deps: AuthServerDeps = {
    config,
    db: sql.db,
    engine: sql.engine,
    state,
    kek: options.kek ?? TEST_KEK,
    now: clock.now,
    audit: (event) => {
      audit.push(event);
    },
    logger: createLogger({ component: 'auth-server', level: 'info', destination }),
    passwordLogN: 10,
    ...(options.baseDir === undefined ? {} : { baseDir: options.baseDir }),
  };
  let server: AuthServer;
  try {
    server = await createAuthServer(deps);
  } catch (err) {
    // A server that fails to start (e.g. a wrong key-encryption key) leaves no store open.
    await backing?.release();
    throw err;
  }
  const url = await server.listen();
  return {
    server,
    url,
    deps,
    clock,
    audit,
    logs,
    async close() {
      await server.close();
      await backing?.release();
    },
  };
}

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createLogger,
  createMemorySharedState,
  createRedisSharedState,
  openSqlDatabase,
  type AuditEvent,
  type SharedState,
  type SqlDatabase,
} from '@gatehouse/core';
import { createVerifier, type Verifier } from '@gatehouse/guard';
import { serviceUrl } from '@gatehouse/testing';
import type { Kysely } from 'kysely';
import pg from 'pg';
import {
  buildAuthServerConfig,
  createKeyService,
  migrateAuthServer,
  type AuthServerConfigInput,
  type AuthServerDeps,
  type KeyService,
} from '../../src/index.js';
import type { AuthDatabase } from '../../src/db/schema.js';
import { TEST_KEK, type StoreSetup, type TestClock } from './harness.js';

export const ISSUER = 'https://as.example';
export const AUDIENCE = 'https://api.example';

/** One instance of the key service with its own database connection and shared-state client. */
export interface KeyInstance {
  readonly deps: AuthServerDeps;
  readonly keys: KeyService;
  readonly audit: AuditEvent[];
  readonly errors: string[];
}

export interface SharedKeyStore {
  /** Raw access to the database (the first instance's connection). */
  readonly db: Kysely<AuthDatabase>;
  readonly instances: readonly KeyInstance[];
  release(): Promise<void>;
}

/**
 * Several key-service instances on ONE database, each with its own connection, as separate
 * processes would have: a temporary SQLite FILE (two handles on `:memory:` would be two databases),
 * or one PostgreSQL schema with a pool per instance (and a Redis client per instance).
 */
export async function openSharedKeyStore(options: {
  readonly stores: StoreSetup;
  readonly clock: TestClock;
  readonly count: number;
  readonly config?: Partial<AuthServerConfigInput>;
  readonly maxTokenLifetimeSec?: number;
}): Promise<SharedKeyStore> {
  const config = buildAuthServerConfig({ issuer: ISSUER, ...options.config });
  const cleanups: Array<() => Promise<void>> = [];
  let open: () => SqlDatabase<AuthDatabase>;
  let state: () => Promise<SharedState>;
  if (options.stores.sql === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-keys-'));
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    });
    const file = join(dir, 'auth.sqlite');
    open = () => openSqlDatabase<AuthDatabase>({ sqliteFile: file });
    const memory = createMemorySharedState();
    cleanups.push(() => memory.close());
    state = () => Promise.resolve(memory);
  } else {
    const schema = `k_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: serviceUrl('postgres') });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    cleanups.push(async () => {
      const cleanup = new pg.Client({ connectionString: serviceUrl('postgres') });
      await cleanup.connect();
      await cleanup.query(`DROP SCHEMA ${schema} CASCADE`);
      await cleanup.end();
    });
    const url = new URL(serviceUrl('postgres'));
    url.searchParams.set('options', `-c search_path=${schema}`);
    open = () => openSqlDatabase<AuthDatabase>({ url: url.toString(), poolSize: 4 });
    state = async () => {
      const redis = await createRedisSharedState({ url: serviceUrl('redis'), prefix: `test:${schema}:` });
      cleanups.unshift(() => redis.close());
      return redis;
    };
  }
  const instances: KeyInstance[] = [];
  let first: Kysely<AuthDatabase> | undefined;
  for (let i = 0; i < options.count; i++) {
    const sqlDb = open();
    cleanups.unshift(() => sqlDb.close());
    if (first === undefined) {
      first = sqlDb.db;
      await migrateAuthServer(sqlDb.db as Kysely<unknown>);
    }
    const audit: AuditEvent[] = [];
    const errors: string[] = [];
    const deps: AuthServerDeps = {
      config,
      db: sqlDb.db,
      engine: sqlDb.engine,
      state: await state(),
      kek: TEST_KEK,
      now: options.clock.now,
      audit: (event) => {
        audit.push(event);
      },
      logger: createLogger({
        component: 'auth-server',
        level: 'warn',
        destination: {
          write(line: string) {
            errors.push(line);
          },
        },
      }),
    };
    const lifetime = options.maxTokenLifetimeSec ?? config.tokens.accessTokenTtlSec;
    instances.push({ deps, keys: createKeyService(deps, () => Promise.resolve(lifetime)), audit, errors });
  }
  return {
    db: first as Kysely<AuthDatabase>,
    instances,
    async release() {
      for (const instance of instances) await instance.keys.stop();
      for (const cleanup of cleanups) await cleanup();
    },
  };
}

export interface JwkSet {
  readonly keys: readonly { readonly kid?: string | undefined }[];
}

/**
 * A resource server as it behaves in production: it holds a copy of the JWKS and refreshes it
 * only once the copy is older than `maxAgeSec` (the Cache-Control max-age the server sends).
 */
export class CachingVerifier {
  #snapshot: JwkSet | undefined;
  #takenAt = Number.NEGATIVE_INFINITY;
  #verifiers = new Map<string | null, Verifier>();
  readonly refreshes: number[] = [];

  constructor(
    private readonly source: () => Promise<JwkSet>,
    private readonly maxAgeSec: number,
    private readonly clock: TestClock,
  ) {}

  /** Refreshes the copy if it is stale, as a caching client would before verifying. */
  async refreshIfStale(): Promise<void> {
    if (this.clock.ms - this.#takenAt < this.maxAgeSec * 1000) return;
    this.#snapshot = structuredClone(await this.source());
    this.#takenAt = this.clock.ms;
    this.#verifiers.clear();
    this.refreshes.push(this.clock.ms);
  }

  get snapshot(): JwkSet {
    if (this.#snapshot === undefined) throw new Error('no JWKS snapshot yet');
    return this.#snapshot;
  }

  /** Verifies with the cached copy (`typ` at+jwt for access tokens, null for ID tokens). */
  async verify(token: string, typ: 'at+jwt' | null): Promise<void> {
    let verifier = this.#verifiers.get(typ);
    if (verifier === undefined) {
      verifier = createVerifier({
        issuer: ISSUER,
        audience: AUDIENCE,
        jwks: { keys: [...this.snapshot.keys] },
        typ,
        now: this.clock.now,
        cache: false,
        maxTokenAgeSec: 7 * 86_400,
      });
      this.#verifiers.set(typ, verifier);
    }
    await verifier.verify(token);
  }
}

/** Claims of a token signed at the clock's time, expiring `ttlSec` later. */
export function claimsAt(clock: TestClock, ttlSec: number, extra: Record<string, unknown> = {}) {
  const iat = Math.floor(clock.ms / 1000);
  return {
    iss: ISSUER,
    sub: 'user-1',
    aud: AUDIENCE,
    iat,
    exp: iat + ttlSec,
    jti: randomBytes(12).toString('base64url'),
    ...extra,
  };
}

/** Decoded protected header of a compact JWS. */
export function headerOf(jwt: string): { alg: string; kid: string; typ: string } {
  return JSON.parse(Buffer.from(jwt.split('.')[0] ?? '', 'base64url').toString('utf8')) as {
    alg: string;
    kid: string;
    typ: string;
  };
}

/** The `key.transition` audit events, as `kid: reason` strings. */
export function transitions(events: readonly AuditEvent[]): string[] {
  return events
    .filter((e) => e.action === 'key.transition')
    .map((e) => `${e.target?.id ?? '?'}: ${e.reason ?? '?'}`);
}

import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createAuditJwsSigner,
  migrateAudit,
  type AuditLogDatabase,
  type AuditSigner,
} from '@gatehouse/audit';
import { openSqlDatabase, type AuditEvent, type SqlDatabase } from '@gatehouse/core';
import { requireService, serviceUrl } from '@gatehouse/testing';
import { calculateJwkThumbprint, CompactSign, exportJWK, type JWK } from 'jose';
import { sql } from 'kysely';
import pg from 'pg';

export type Engine = 'sqlite' | 'postgres';

const postgres = await requireService('postgres', 'audit store on PostgreSQL');

/** The engines every store suite runs on; PostgreSQL skips (saying why) when it is not reachable. */
export const ENGINES: readonly (readonly [Engine, boolean])[] = [
  ['sqlite', true],
  ['postgres', postgres.available],
];

/** One database (a temp SQLite file, or a fresh PostgreSQL schema) with the audit tables. */
export interface Backing {
  readonly engine: Engine;
  readonly sql: SqlDatabase<AuditLogDatabase>;
  /** Where another handle or process finds the same database. */
  readonly location: { readonly sqliteFile?: string; readonly url?: string };
  /** Another handle on the same database (closed by `release`). */
  openAnother(): SqlDatabase<AuditLogDatabase>;
  /** Runs SQL as an intruder with write access to the database would. */
  raw(statement: string): Promise<void>;
  release(): Promise<void>;
}

export async function openBacking(engine: Engine): Promise<Backing> {
  const handles: SqlDatabase<AuditLogDatabase>[] = [];
  let location: { sqliteFile?: string; url?: string };
  let cleanup: () => Promise<void>;
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-'));
    location = { sqliteFile: join(dir, 'audit.db') };
    cleanup = () => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    };
  } else {
    // A fresh schema per backing keeps parallel test files apart on one PostgreSQL database.
    const schema = `audit_${randomBytes(6).toString('hex')}`;
    await adminQuery(`CREATE SCHEMA ${schema}`);
    const url = new URL(serviceUrl('postgres'));
    url.searchParams.set('options', `-c search_path=${schema} -c max_parallel_workers_per_gather=0`);
    location = { url: url.toString() };
    cleanup = () => adminQuery(`DROP SCHEMA ${schema} CASCADE`);
  }
  const open = (): SqlDatabase<AuditLogDatabase> => {
    const handle = openSqlDatabase<AuditLogDatabase>({ ...location, poolSize: 4 });
    handles.push(handle);
    return handle;
  };
  const main = open();
  await migrateAudit(main.db);
  return {
    engine,
    sql: main,
    location,
    openAnother: open,
    raw: async (statement) => {
      await sql.raw(statement).execute(main.db);
    },
    release: async () => {
      await Promise.all(handles.map((h) => h.close()));
      await cleanup();
    },
  };
}

async function adminQuery(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serviceUrl('postgres') });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** A varied, realistic event: every field used by some of them. */
export function sampleEvent(i: number, time = Date.UTC(2026, 0, 1) + i * 1000): AuditEvent {
  const base: AuditEvent = {
    time: new Date(time).toISOString(),
    action: ['token.issue', 'authz.decision', 'login.failure', 'key.transition'][i % 4] ?? 'token.issue',
    outcome: i % 3 === 0 ? 'failure' : 'success',
    component: i % 2 === 0 ? 'auth-server' : 'gateway',
  };
  if (i % 4 === 0) return base;
  return {
    ...base,
    actor: { sub: `user-${i % 7}`, ...(i % 2 === 0 ? {} : { clientId: `client-${i % 3}` }) },
    sourceIp: `192.0.2.${i % 250}`,
    target: { type: 'account', id: `acct-${i}` },
    ...(i % 4 === 1 ? { decision: i % 8 === 1 ? ('deny' as const) : ('allow' as const) } : {}),
    reason: `rule-${i % 5}`,
    requestId: `req-${i}`,
    details: { path: `/api/accounts/${i}`, status: 200 + (i % 5), cached: i % 2 === 0, note: 'é "quoted"\n' },
  };
}

export function sampleInputs(from: number, count: number): { id: string; event: AuditEvent }[] {
  return Array.from({ length: count }, (_, k) => ({ id: `evt-${from + k}`, event: sampleEvent(from + k) }));
}

/** An ES256 key pair with an RFC 7638 kid, as the auth server's keys are. */
export interface TestKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicJwk: JWK;
}

export async function createTestKey(): Promise<TestKey> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
  return { kid, privateKey, publicKey, publicJwk: { ...publicJwk, kid, alg: 'ES256' } };
}

/** A raw-key signer (node:crypto ECDSA, P1363 signatures) wrapped by createAuditJwsSigner. */
export function rawSigner(key: TestKey, kid = key.kid): AuditSigner {
  return createAuditJwsSigner({
    kid,
    alg: 'ES256',
    sign: (input) =>
      Promise.resolve(sign('sha256', input, { key: key.privateKey, dsaEncoding: 'ieee-p1363' })),
  });
}

/** The shape of the auth server's KeyService.sign: the whole JWS is built by the key holder. */
export function keyServiceSigner(key: TestKey): AuditSigner {
  return {
    async sign(payload, typ) {
      const jwt = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
        .setProtectedHeader({ alg: 'ES256', typ, kid: key.kid })
        .sign(key.privateKey);
      return { jwt, kid: key.kid };
    },
  };
}

/** Resolves the given keys by kid (retired keys stay resolvable, as verification needs). */
export function resolverOf(...keys: readonly TestKey[]): (kid: string) => KeyObject | undefined {
  return (kid) => keys.find((k) => k.kid === kid)?.publicKey;
}

/** A clock tests move by hand. */
export class TestClock {
  constructor(public ms = Date.UTC(2026, 0, 2)) {}
  readonly now = (): number => this.ms;
}

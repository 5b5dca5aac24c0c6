import { openSharedState, openSqlDatabase, type SharedState, type SqlEngine } from '@gatehouse/core';
import type { Kysely } from 'kysely';
import { migrateAuthServer } from '../create-auth-server.js';
import type { AuthDatabase } from '../db/schema.js';

export interface AuthServerStoresOptions {
  /** PostgreSQL URL; without it the SQLite file is used. */
  readonly databaseUrl?: string | undefined;
  readonly sqliteFile: string;
  /** Redis URL; without it process memory. */
  readonly redisUrl?: string | undefined;
  /** Prefix of every Redis key and channel (default `gatehouse:`). */
  readonly redisPrefix?: string | undefined;
}

export interface AuthServerStores {
  readonly db: Kysely<AuthDatabase>;
  readonly engine: SqlEngine;
  readonly state: SharedState;
  close(): Promise<void>;
}

/**
 * Opens a deployment's durable store and shared state and brings the schema up to date, without
 * any HTTP: what the server's entry point and the store-only commands (`gatehouse clients …`) use.
 */
export async function openAuthServerStores(options: AuthServerStoresOptions): Promise<AuthServerStores> {
  const sql = openSqlDatabase<AuthDatabase>({ url: options.databaseUrl, sqliteFile: options.sqliteFile });
  let state: SharedState | undefined;
  try {
    await migrateAuthServer(sql.db as Kysely<unknown>);
    state = await openSharedState({
      url: options.redisUrl,
      ...(options.redisPrefix === undefined ? {} : { prefix: options.redisPrefix }),
    });
  } catch (err) {
    await sql.close();
    throw err;
  }
  const opened = state;
  return {
    db: sql.db,
    engine: sql.engine,
    state: opened,
    async close() {
      await Promise.allSettled([opened.close(), sql.close()]);
    },
  };
}

import type { AddressInfo } from 'node:net';
import { migrateToLatest } from '@gatehouse/core';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { registerDiscovery } from './actions/discovery.js';
import { registerJwks } from './actions/jwks.js';
import { registerIntrospect } from './actions/introspect.js';
import { registerRevoke } from './actions/revoke.js';
import { registerToken } from './actions/token.js';
import { createClientAuthenticator } from './clients/authenticate-client.js';
import { CLIENT_CACHE_TTL_MS, createClientStore } from './clients/client-store.js';
import type { AuthServerDeps } from './context.js';
import { authServerMigrations } from './db/migrations.js';
import { createApp } from './http/create-app.js';
import { registerInteractionActions } from './interaction/register.js';
import { createKeyService } from './keys/key-service.js';
import { buildEndpoints, type AuthServerServices } from './services.js';

export interface AuthServer {
  readonly app: FastifyInstance;
  readonly services: AuthServerServices;
  /** Listens on `config.listen` (port 0: any free port); resolves the bound URL. */
  listen(): Promise<string>;
  /** Stops accepting requests, finishes those in flight, stops the key scheduler. */
  close(): Promise<void>;
}

/** Runs the authorization server's migrations (safe with several instances starting together). */
export async function migrateAuthServer(db: Kysely<unknown>): Promise<readonly string[]> {
  return migrateToLatest(db, 'auth_server', authServerMigrations);
}

/**
 * The longest lifetime of anything the server signs: a demoted key stays published at least this
 * long, so no token valid at issuance fails verification because of rotation.
 */
async function maxTokenLifetimeSec(deps: AuthServerDeps): Promise<number> {
  const { tokens, resources } = deps.config;
  const row = await deps.db
    .selectFrom('clients')
    .select((eb) => eb.fn.max<number | null>('access_token_ttl_sec').as('longest'))
    .executeTakeFirst();
  return Math.max(
    tokens.accessTokenTtlSec,
    tokens.idTokenTtlSec,
    tokens.exchangeTtlSec,
    ...resources.map((r) => r.accessTokenTtlSec ?? 0),
    row?.longest ?? 0,
  );
}

/**
 * Builds the authorization server on its dependencies: migrates the database, prepares the
 * signing keys and registers every endpoint under the issuer's path.
 */
export async function createAuthServer(deps: AuthServerDeps): Promise<AuthServer> {
  await migrateAuthServer(deps.db as Kysely<unknown>);
  const issuerPath = new URL(deps.config.issuer).pathname.replace(/\/$/, '');
  const clients = createClientStore(deps, { cacheTtlMs: CLIENT_CACHE_TTL_MS });
  const keys = createKeyService(deps, () => maxTokenLifetimeSec(deps));
  const services: AuthServerServices = {
    deps,
    endpoints: buildEndpoints(deps.config.issuer),
    keys,
    clients,
    authenticateClient: createClientAuthenticator(deps, clients),
  };

  const app = createApp({ logger: deps.logger });
  registerDiscovery(app, services, issuerPath);
  registerJwks(app, services, issuerPath);
  registerToken(app, services, issuerPath);
  registerIntrospect(app, services, issuerPath);
  registerRevoke(app, services, issuerPath);
  registerInteractionActions(app, services, issuerPath);
  // The admin API is not on the issuer: see admin/create-admin-app.ts (its own listener, admin.listen).

  await clients.start();
  try {
    await keys.start();
  } catch (err) {
    await clients.stop();
    throw err;
  }
  return {
    app,
    services,
    async listen() {
      await app.listen({ host: deps.config.listen.host, port: deps.config.listen.port });
      const address = app.server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `http://${host}:${address.port}`;
    },
    async close() {
      await keys.stop();
      await app.close();
      await clients.stop();
    },
  };
}

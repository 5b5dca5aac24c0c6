import { createLogger, migrateToLatest, openSqlDatabase, type AuditSink, type Logger } from '@gatehouse/core';
import { createVerifier } from '@gatehouse/guard';
import type { Kysely, Migration } from 'kysely';
import { createServiceApp, type ServiceApp, type ServiceTls } from '../http/create-service-app.js';
import { getStatus } from '../http/get-status.js';
import type { GuardContext } from '../http/register-guarded.js';

export interface ResourceServiceOptions {
  /** This service's certificate and key, and the CA whose client certificates are accepted. */
  readonly tls: ServiceTls;
  /** SAN URI(s) of the gateway's client certificate, e.g. `spiffe://gatehouse.local/gateway`. */
  readonly gatewayIdentity: string | readonly string[];
  /** The auth server's issuer, compared exactly. */
  readonly issuer: string;
  readonly jwksUri: string;
  /** This service's own audience; tokens for any other are refused (default: the service's own). */
  readonly audience?: string;
  /** SQLite file (created with its folder), or `:memory:`. */
  readonly databaseFile: string;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (any free port). */
  readonly port?: number;
  readonly logger?: Logger;
  /** Also receives every audit event (e.g. a platform audit log). */
  readonly audit?: AuditSink;
  /** Clock in epoch milliseconds (tests freeze time with it). */
  readonly now?: () => number;
}

export interface ResourceService {
  /** Migrates the database and listens; resolves the base URL (`https://127.0.0.1:PORT`). */
  listen(): Promise<string>;
  close(): Promise<void>;
}

/** What a service's own code gets to build its stores, policy and audit trail from. */
export interface ResourceServiceParts<Database> {
  readonly db: Kysely<Database>;
  readonly logger: Logger;
  readonly now: () => number;
  /** The caller's extra sink (`options.audit`), to hand every event to. */
  readonly forward: AuditSink | undefined;
}

/** A service's own half: where its decisions are audited and which routes it serves. */
export interface ResourceServiceRoutes {
  readonly audit: AuditSink;
  /** Registers the routes (behind guard with `registerGuarded`); `GET /public/status` is already there. */
  register(app: ServiceApp, guard: GuardContext): void;
}

export interface ResourceServiceDefinition<Database> {
  /** Name in logs and audit events, and of the migration history table (`<component>_migrations`). */
  readonly component: string;
  readonly defaultAudience: string;
  readonly migrations: Readonly<Record<string, Migration>>;
  setup(parts: ResourceServiceParts<Database>): ResourceServiceRoutes;
}

/**
 * A demo resource server: checked options, a SQLite database, a guard verifier for this
 * service's audience, and the mTLS Fastify shell with the service's routes.
 */
export function createResourceService<Database>(
  definition: ResourceServiceDefinition<Database>,
  options: ResourceServiceOptions,
): ResourceService {
  const { component } = definition;
  const now = options.now ?? Date.now;
  const logger = options.logger ?? createLogger({ component });
  const gatewayIdentities =
    typeof options.gatewayIdentity === 'string' ? [options.gatewayIdentity] : [...options.gatewayIdentity];
  if (gatewayIdentities.length === 0) throw new TypeError(`${component}: gatewayIdentity required`);

  const database = openSqlDatabase<Database>({ sqliteFile: options.databaseFile });
  const { db } = database;
  const service = definition.setup({ db, logger, now, forward: options.audit });
  const { audit } = service;
  const verifier = createVerifier({
    issuer: options.issuer,
    audience: options.audience ?? definition.defaultAudience,
    jwksUri: options.jwksUri,
    // RFC 9068 §2.2: client_id is required; the policy tells users from clients with it.
    requiredClaims: ['iss', 'aud', 'exp', 'iat', 'sub', 'client_id'],
    now,
    onEvent: (event) => logger.info({ event }, 'guard event'),
  });

  const app = createServiceApp({
    component,
    tls: options.tls,
    peerIdentities: gatewayIdentities,
    logger,
    audit,
    now,
  });
  app.get('/public/status', getStatus);
  service.register(app, { verifier, logger, audit, component, now });

  return {
    async listen() {
      await migrateToLatest(db as Kysely<unknown>, component, definition.migrations);
      return app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
    },
    async close() {
      await app.close();
      verifier.close();
      await database.close();
    },
  };
}

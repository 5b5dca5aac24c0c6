import { randomUUID } from 'node:crypto';
import { buildProblem, type AdminOperators, type Logger, type MetricsRegistry } from '@gatehouse/core';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { createClientStore } from '../clients/client-store.js';
import type { AuthServerDeps } from '../context.js';
import type { KeyService } from '../keys/key-service.js';
import { createUserStore } from '../users/user-store.js';
import { createAdminOperations, type AdminOperations } from './admin-operations.js';
import { MIN_ADMIN_TOKEN_LENGTH } from '@gatehouse/core';
import { registerAdminRoutes } from './routes.js';

export interface CreateAdminAppOptions {
  readonly logger: Logger;
  readonly deps: Pick<AuthServerDeps, 'audit' | 'now' | 'logger'>;
  readonly operations: AdminOperations;
  readonly adminToken: string | undefined;
  /**
   * Operators who authenticate with a client certificate instead of the token (`admin.operators`);
   * the listener's TLS must ask for certificates (`clientAuth`) and verify them (`caFile`).
   */
  readonly operators?: AdminOperators | undefined;
  /** The auth server's series (`AuthServer.metrics`), served at `GET /metrics`; without it, no `/metrics`. */
  readonly metrics?: MetricsRegistry | undefined;
  /** Verifies the audit log (`GET /admin/audit/verify`, admin token); without it, no such route. */
  readonly verifyAudit?: (() => Promise<unknown>) | undefined;
  /**
   * Whether this instance can serve (`GET /readyz`: 200 or 503); without it, `/readyz` answers as
   * `/healthz` does. `/healthz` answers while the process serves.
   */
  readonly ready?: (() => Promise<boolean>) | undefined;
}

/**
 * The admin listener's HTTP shell (a separate Fastify instance from the issuer's, bound to its own
 * address, loopback by default): JSON only (but `/metrics`), no caching, problem+json for unknown
 * paths.
 */
export function createAdminApp(options: CreateAdminAppOptions): FastifyInstance {
  const logger: FastifyBaseLogger = options.logger;
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: 64 * 1024,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    trustProxy: false,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: false, caseSensitive: true },
  });
  app.addHook('onSend', async (_request, reply) => {
    void reply.header('cache-control', 'no-store');
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header('referrer-policy', 'no-referrer');
  });
  app.setNotFoundHandler((_request, reply) =>
    reply
      .code(404)
      .header('content-type', 'application/problem+json')
      .send(JSON.stringify(buildProblem({ status: 404 }))),
  );
  if (options.adminToken === undefined && (options.operators?.size ?? 0) === 0) {
    options.logger.warn('admin API disabled: no admin token configured (admin.token); it answers 503');
  } else if (options.adminToken !== undefined && options.adminToken.length < MIN_ADMIN_TOKEN_LENGTH) {
    options.logger.warn(`admin token shorter than ${MIN_ADMIN_TOKEN_LENGTH} characters`);
  }
  const { metrics } = options;
  if (metrics !== undefined) {
    // As on the gateway's admin listener: no credential, the series disclose only states and counts.
    app.get('/metrics', async (_request, reply) =>
      reply.header('content-type', metrics.contentType).send(metrics.render()),
    );
  }
  // Probes for an orchestrator, as on the gateway's admin listener: no credential, only a status.
  app.get('/healthz', async (_request, reply) => reply.send({ status: 'ok' }));
  const { ready } = options;
  app.get('/readyz', async (_request, reply) => {
    const isReady = ready === undefined ? true : await ready().catch(() => false);
    return reply.code(isReady ? 200 : 503).send({ status: isReady ? 'ready' : 'not ready' });
  });
  registerAdminRoutes(app, {
    deps: options.deps,
    operations: options.operations,
    adminToken: options.adminToken,
    operators: options.operators,
    verifyAudit: options.verifyAudit,
  });
  return app;
}

/**
 * The admin operations on a set of dependencies, built without any HTTP listener: what the
 * `gatehouse clients|users|keys` commands and the admin listener share.
 */
export function createAdminOperationsFor(
  deps: Pick<AuthServerDeps, 'db' | 'now' | 'state' | 'logger' | 'audit' | 'passwordLogN'>,
  keys?: KeyService,
): AdminOperations {
  return createAdminOperations({
    deps,
    clients: createClientStore(deps),
    users: createUserStore(deps),
    keys,
  });
}

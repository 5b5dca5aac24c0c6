import { randomUUID } from 'node:crypto';
import type { Server as HttpsServer } from 'node:https';
import { buildProblem, MIN_ADMIN_TOKEN_LENGTH, type TlsServerOptions } from '@gatehouse/core';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { registerGatewayAdminRoutes, type GatewayAdminOptions } from './register-gateway-admin-routes.js';

export interface CreateGatewayAdminAppOptions extends GatewayAdminOptions {
  /**
   * The listener over TLS (options from core's `loadTlsServerOptions`); `app.server` is then a
   * node:https server, whose certificate the caller keeps current (`watchTlsFiles`).
   */
  readonly https?: TlsServerOptions;
}

/** RFC 6797 §6.1: one year; only ever sent over HTTPS (RFC 6797 §7.2). */
const HSTS = 'max-age=31536000';

/**
 * The admin listener of a gateway started alone (`gatehouse gateway`); in `gatehouse up` the
 * same routes are registered on the shared admin listener. JSON only, never cached.
 */
export function createGatewayAdminApp(options: CreateGatewayAdminAppOptions): FastifyInstance {
  const logger: FastifyBaseLogger = options.logger;
  // `https: null` is plain HTTP. Fastify types an HTTPS instance apart, but every route and hook
  // here is the same for both, so the app is handed out under the one type callers know.
  const app = Fastify<HttpsServer>({
    loggerInstance: logger,
    bodyLimit: 16 * 1024,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    trustProxy: false,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: false, caseSensitive: true },
    https: options.https ?? null,
  }) as unknown as FastifyInstance;
  const secure = options.https !== undefined;
  app.addHook('onSend', async (_request, reply) => {
    void reply.header('cache-control', 'no-store');
    void reply.header('x-content-type-options', 'nosniff');
    if (secure) void reply.header('strict-transport-security', HSTS);
  });
  app.setNotFoundHandler((_request, reply) =>
    reply
      .code(404)
      .header('content-type', 'application/problem+json')
      .send(JSON.stringify(buildProblem({ status: 404 }))),
  );
  if (options.adminToken === undefined && (options.operators?.size ?? 0) === 0) {
    options.logger.warn(
      'gateway admin API disabled: no admin token configured (admin.token); it answers 503',
    );
  } else if (options.adminToken !== undefined && options.adminToken.length < MIN_ADMIN_TOKEN_LENGTH) {
    options.logger.warn(`admin token shorter than ${MIN_ADMIN_TOKEN_LENGTH} characters`);
  }
  registerGatewayAdminRoutes(app, options);
  return app;
}

import { randomUUID } from 'node:crypto';
import { buildProblem, MIN_ADMIN_TOKEN_LENGTH } from '@gatehouse/core';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { registerGatewayAdminRoutes, type GatewayAdminOptions } from './register-gateway-admin-routes.js';

/**
 * The admin listener of a gateway started alone (`gatehouse gateway`); in `gatehouse up` the
 * same routes are registered on the shared admin listener. JSON only, never cached.
 */
export function createGatewayAdminApp(options: GatewayAdminOptions): FastifyInstance {
  const logger: FastifyBaseLogger = options.logger;
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: 16 * 1024,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    trustProxy: false,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: false, caseSensitive: true },
  });
  app.addHook('onSend', async (_request, reply) => {
    void reply.header('cache-control', 'no-store');
    void reply.header('x-content-type-options', 'nosniff');
  });
  app.setNotFoundHandler((_request, reply) =>
    reply
      .code(404)
      .header('content-type', 'application/problem+json')
      .send(JSON.stringify(buildProblem({ status: 404 }))),
  );
  if (options.adminToken === undefined) {
    options.logger.warn(
      'gateway admin API disabled: no admin token configured (admin.token); it answers 503',
    );
  } else if (options.adminToken.length < MIN_ADMIN_TOKEN_LENGTH) {
    options.logger.warn(`admin token shorter than ${MIN_ADMIN_TOKEN_LENGTH} characters`);
  }
  registerGatewayAdminRoutes(app, options);
  return app;
}

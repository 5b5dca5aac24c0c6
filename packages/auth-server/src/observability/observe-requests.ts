import type { FastifyInstance } from 'fastify';
import type { AuthServerMetrics } from './auth-server-metrics.js';
import { buildEndpointNames } from './endpoint-names.js';

/**
 * Counts and times every answer of the issuer's listener in one hook, whatever route (or none)
 * answered it: the endpoint label is the matched route's fixed name (`other` for a 404), never the
 * path a client sent. `onResponse` runs once the answer is written, errors and 404s included.
 */
export function observeRequests(app: FastifyInstance, metrics: AuthServerMetrics, prefix: string): void {
  const endpointOf = buildEndpointNames(prefix);
  app.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest(endpointOf(request.routeOptions.url), reply.statusCode, reply.elapsedTime / 1000);
  });
}

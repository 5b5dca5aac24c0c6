import type { FastifyInstance } from 'fastify';
import type { BffContext } from '../context.js';
import { sendProblem } from '../errors.js';

const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';
/** Request headers a page may send cross-origin (beyond the CORS-safelisted ones). */
const ALLOWED_HEADERS = new Set(['content-type', 'x-csrf', 'accept', 'accept-language', 'content-language']);
const PREFLIGHT_MAX_AGE_SEC = '600';

/**
 * CORS (Fetch §3.2) for an exact allowlist. `Access-Control-Allow-Origin` is only ever one of the
 * configured origins, written back when it equals the request's `Origin` exactly: never `*`, never
 * `null`, never an unlisted origin echoed. Credentials are allowed only together with a listed
 * origin. `Vary: Origin` on every response keeps shared caches from mixing answers.
 */
export function registerCors(app: FastifyInstance, ctx: BffContext): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('vary', 'Origin');
    const origin = request.headers.origin;
    if (origin !== ctx.origins.own && ctx.origins.isAllowed(origin)) {
      reply.header('access-control-allow-origin', origin);
      reply.header('access-control-allow-credentials', 'true');
    }
  });

  // Preflight (Fetch §4.8): refused without any CORS header unless origin, method and every
  // requested header are allowed.
  app.options('/*', { config: { csrf: false } }, async (request, reply) => {
    const origin = request.headers.origin;
    const method = request.headers['access-control-request-method'];
    const requested = (request.headers['access-control-request-headers'] ?? '')
      .split(',')
      .map((name) => name.trim().toLowerCase())
      .filter((name) => name !== '');
    const allowed =
      ctx.origins.isAllowed(origin) &&
      typeof method === 'string' &&
      ALLOWED_METHODS.split(', ').includes(method) &&
      requested.every((name) => ALLOWED_HEADERS.has(name));
    if (!allowed) {
      reply.removeHeader('access-control-allow-origin');
      reply.removeHeader('access-control-allow-credentials');
      ctx.audit(request, { action: 'cors.refuse', outcome: 'failure', reason: 'preflight' });
      return sendProblem(reply, 'ERR_BFF_CORS_REFUSED');
    }
    return reply
      .code(204)
      .header('access-control-allow-origin', origin)
      .header('access-control-allow-credentials', 'true')
      .header('access-control-allow-methods', ALLOWED_METHODS)
      .header('access-control-allow-headers', [...ALLOWED_HEADERS].join(', '))
      .header('access-control-max-age', PREFLIGHT_MAX_AGE_SEC)
      .send();
  });
}

import type { FastifyInstance } from 'fastify';
import type { AuthServerServices } from '../services.js';

/** The published keys (RFC 7517 §5), cacheable for `keys.jwksMaxAgeSec` (always ≤ pre-publication). */
export function registerJwks(app: FastifyInstance, services: AuthServerServices, prefix: string): void {
  const maxAge = services.deps.config.keys.jwksMaxAgeSec;
  app.get(`${prefix}/jwks`, async (_request, reply) =>
    reply
      .header('content-type', 'application/jwk-set+json')
      .header('cache-control', `public, max-age=${maxAge}`)
      .header('access-control-allow-origin', '*')
      .send(JSON.stringify(await services.keys.jwks())),
  );
}

import type { FastifyInstance } from 'fastify';
import type { BffContext } from '../context.js';
import { readCookie } from '../http/cookies.js';

/** GET /auth/session — whether the browser is logged in, and as whom. Never a token. */
export function registerSessionInfo(app: FastifyInstance, ctx: BffContext): void {
  app.get('/auth/session', async (request, reply) => {
    const current = await ctx.sessions.current(readCookie(request.headers.cookie, ctx.cookies.names.session));
    const body =
      current === undefined
        ? { authenticated: false }
        : {
            authenticated: true,
            sub: current.session.sub,
            name: current.session.name,
            expiresAt: new Date(current.session.expiresAt).toISOString(),
          };
    return reply.header('cache-control', 'no-store').send(body);
  });
}

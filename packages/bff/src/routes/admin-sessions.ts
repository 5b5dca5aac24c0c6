import { adminTokenMatches, bearerTokenOf } from '@gatehouse/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { BffContext } from '../context.js';
import { sendProblem } from '../errors.js';

/**
 * Session administration (ASVS V3.3.4: a user's sessions can be listed and ended):
 * GET /admin/bff/sessions?sub=…, DELETE /admin/bff/sessions?sub=…, DELETE /admin/bff/sessions/:ref.
 * Bearer admin token only (no cookie, so no CSRF exposure). Ended sessions get their refresh
 * tokens revoked at the OP.
 */
export function registerAdminSessions(app: FastifyInstance, ctx: BffContext, adminToken: string): void {
  const authorized = (request: FastifyRequest, reply: FastifyReply): boolean => {
    const presented = bearerTokenOf(request.headers.authorization);
    if (presented !== undefined && adminTokenMatches(presented, adminToken)) return true;
    ctx.audit(request, { action: 'bff.admin', outcome: 'failure', reason: 'admin_token' });
    void sendProblem(reply.header('www-authenticate', 'Bearer'), 'ERR_BFF_ADMIN_UNAUTHORIZED');
    return false;
  };
  const subOf = (request: FastifyRequest<{ Querystring: Record<string, unknown> }>): string | undefined => {
    const sub = request.query['sub'];
    return typeof sub === 'string' && sub !== '' ? sub : undefined;
  };
  const config = { csrf: false };

  app.get<{ Querystring: Record<string, unknown> }>(
    '/admin/bff/sessions',
    { config },
    async (request, reply) => {
      if (!authorized(request, reply)) return reply;
      const sub = subOf(request);
      if (sub === undefined) return sendProblem(reply, 'ERR_BFF_SUB_REQUIRED');
      return reply.header('cache-control', 'no-store').send({ sessions: await ctx.sessions.list(sub) });
    },
  );

  const revoke = async (
    request: FastifyRequest,
    reply: FastifyReply,
    match: { sub: string } | { ref: string },
  ): Promise<FastifyReply> => {
    const ended = await ctx.sessions.endMatching(match);
    await Promise.all(ended.map((session) => ctx.sessions.revokeAtOp(session)));
    ctx.audit(request, {
      action: 'bff.session_revoke',
      outcome: 'success',
      sub: 'sub' in match ? match.sub : ended[0]?.sub,
      details: { sessions: ended.length },
    });
    return reply.header('cache-control', 'no-store').send({ revoked: ended.length });
  };

  app.delete<{ Querystring: Record<string, unknown> }>(
    '/admin/bff/sessions',
    { config },
    async (request, reply) => {
      if (!authorized(request, reply)) return reply;
      const sub = subOf(request);
      if (sub === undefined) return sendProblem(reply, 'ERR_BFF_SUB_REQUIRED');
      return revoke(request, reply, { sub });
    },
  );

  app.delete<{ Params: { ref: string } }>('/admin/bff/sessions/:ref', { config }, async (request, reply) => {
    if (!authorized(request, reply)) return reply;
    return revoke(request, reply, { ref: request.params.ref });
  });
}

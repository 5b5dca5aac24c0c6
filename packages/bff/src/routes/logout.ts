import type { FastifyInstance } from 'fastify';
import type { BffContext } from '../context.js';
import { clearCookie, readCookie } from '../http/cookies.js';

/**
 * POST /auth/logout (CSRF-checked like every state change): ends the session here, revokes the
 * refresh token at the OP (RFC 7009), clears the cookie, then sends the browser to the OP's
 * end_session_endpoint with id_token_hint and post_logout_redirect_uri (RP-Initiated Logout 1.0
 * §2). A page calling with `Accept: application/json` gets the URL to navigate to instead of a 303
 * (fetch cannot read a cross-origin redirect).
 */
export function registerLogout(app: FastifyInstance, ctx: BffContext): void {
  app.post('/auth/logout', async (request, reply) => {
    const session = await ctx.sessions.end(readCookie(request.headers.cookie, ctx.cookies.names.session));
    let location = ctx.postLogoutRedirectUri;
    if (session !== undefined) {
      const revoked = await ctx.sessions.revokeAtOp(session);
      ctx.audit(request, {
        action: 'bff.logout',
        outcome: 'success',
        sub: session.sub,
        details: { revoked },
      });
      try {
        const url = await ctx.oidc.endSessionUrl(session.idToken, ctx.postLogoutRedirectUri);
        if (url !== undefined) location = url.href;
      } catch (err) {
        ctx.logger.warn({ err: { name: (err as Error).name } }, 'end_session_endpoint unavailable');
      }
    }
    reply
      .header('cache-control', 'no-store')
      .header('set-cookie', clearCookie(ctx.cookies, ctx.cookies.names.session));
    if (request.headers.accept?.includes('application/json') === true) {
      return reply.code(200).send({ redirectTo: location });
    }
    return reply.code(303).header('location', location).send();
  });
}

import type { FastifyInstance } from 'fastify';
import type { BffContext } from '../context.js';
import { SEALED_FORMAT, clearCookie, readCookie, serializeCookie } from '../http/cookies.js';
import { LOGOUT_HANDOFF_SEC } from '../http/logout-handoff.js';

/**
 * POST /auth/logout (CSRF-checked like every state change): ends the session here, revokes the
 * refresh token at the OP (RFC 7009), clears the cookie, then sends the browser to the OP's
 * end_session_endpoint with id_token_hint and post_logout_redirect_uri (RP-Initiated Logout 1.0
 * §2). A page calling with `Accept: application/json` gets a URL to navigate to instead of a 303
 * (fetch cannot follow a cross-origin redirect): `/auth/logout/continue`, never the end-session URL
 * itself, which carries the ID token.
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
    reply.header('cache-control', 'no-store');
    const cleared = clearCookie(ctx.cookies, ctx.cookies.names.session);
    if (request.headers.accept?.includes('application/json') === true) {
      // The end-session URL holds the ID token: the page gets a URL of ours, the token stays sealed
      // in an HttpOnly cookie until the browser's next navigation.
      const handoff = serializeCookie(
        ctx.cookies,
        ctx.cookies.names.logout,
        ctx.logoutHandoff.seal(location, ctx.now()),
        { maxAgeSec: LOGOUT_HANDOFF_SEC },
      );
      return reply
        .code(200)
        .header('set-cookie', [cleared, handoff])
        .send({ redirectTo: `${ctx.config.publicUrl}/auth/logout/continue` });
    }
    return reply.code(303).header('set-cookie', cleared).header('location', location).send();
  });

  /**
   * GET /auth/logout/continue — the navigation after a fetch logout: 303 to the sealed end-session
   * URL (single use: the cookie is cleared), or to the post-logout page when there is none.
   */
  app.get('/auth/logout/continue', async (request, reply) => {
    const sealed = readCookie(request.headers.cookie, ctx.cookies.names.logout, SEALED_FORMAT);
    const location = ctx.logoutHandoff.open(sealed, ctx.now()) ?? ctx.postLogoutRedirectUri;
    return reply
      .code(303)
      .header('cache-control', 'no-store')
      .header('set-cookie', clearCookie(ctx.cookies, ctx.cookies.names.logout))
      .header('location', location)
      .send();
  });
}

import { hashToken, randomToken } from '@gatehouse/core';
import type { FastifyInstance } from 'fastify';
import type { BffContext } from '../context.js';
import { sendProblem } from '../errors.js';
import { serializeCookie } from '../http/cookies.js';
import { safeReturnTo } from '../http/return-to.js';
import type { SessionStore } from '../sessions/session-store.js';

/**
 * GET /auth/login?returnTo=/path — starts the authorization code flow. The state, nonce and PKCE
 * verifier stay on the server, keyed by a one-time login cookie: the callback only completes in the
 * browser that started the flow (RFC 9700 §4.7.1, CSRF on the redirect URI).
 */
export function registerLogin(app: FastifyInstance, ctx: BffContext, store: SessionStore): void {
  app.get<{ Querystring: Record<string, unknown> }>('/auth/login', async (request, reply) => {
    const returnTo = safeReturnTo(request.query['returnTo']);
    if (returnTo === undefined) {
      ctx.audit(request, { action: 'bff.login', outcome: 'failure', reason: 'return_to_invalid' });
      return sendProblem(reply, 'ERR_BFF_RETURN_TO_INVALID');
    }
    let started;
    try {
      started = await ctx.oidc.startLogin();
    } catch (err) {
      ctx.logger.error({ err }, 'authorization request could not be prepared');
      return sendProblem(reply, 'ERR_BFF_OP_UNAVAILABLE');
    }
    const loginId = randomToken(32);
    const { loginTimeoutSec } = ctx.config.session;
    await store.savePendingLogin(hashToken(loginId), {
      state: started.state,
      nonce: started.nonce,
      codeVerifier: started.codeVerifier,
      returnTo,
      expiresAt: ctx.now() + loginTimeoutSec * 1000,
    });
    return reply
      .code(303)
      .header('cache-control', 'no-store')
      .header(
        'set-cookie',
        serializeCookie(ctx.cookies, ctx.cookies.names.login, loginId, {
          maxAgeSec: loginTimeoutSec,
          sameSite: 'Lax',
        }),
      )
      .header('location', started.url.href)
      .send();
  });
}

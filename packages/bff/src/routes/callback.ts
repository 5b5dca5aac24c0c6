import { hashToken } from '@gatehouse/core';
import type { FastifyInstance } from 'fastify';
import { AuthorizationResponseError, ResponseBodyError } from 'openid-client';
import type { BffContext } from '../context.js';
import { sendProblem } from '../errors.js';
import { clearCookie, readCookie, serializeCookie } from '../http/cookies.js';
import type { SessionStore } from '../sessions/session-store.js';

/**
 * GET /auth/callback — the authorization response. openid-client checks `iss` (RFC 9207), `state`,
 * exchanges the code with the PKCE verifier and validates the ID token (signature, iss, aud, exp,
 * iat, nonce: OIDC Core §3.1.3.7). The session id is always new (ASVS V3.2.1: no fixation); a
 * session the browser already had is ended.
 */
export function registerCallback(app: FastifyInstance, ctx: BffContext, store: SessionStore): void {
  app.get('/auth/callback', async (request, reply) => {
    const clearLogin = clearCookie(ctx.cookies, ctx.cookies.names.login);
    const refuse = (reason: string) => {
      ctx.audit(request, { action: 'bff.login', outcome: 'failure', reason });
      return sendProblem(reply.header('set-cookie', clearLogin), 'ERR_BFF_LOGIN_FAILED');
    };
    const loginId = readCookie(request.headers.cookie, ctx.cookies.names.login);
    if (loginId === undefined) return refuse('no_login_cookie');
    // Single use: a replayed callback finds nothing.
    const pending = await store.takePendingLogin(hashToken(loginId));
    if (pending === undefined) return refuse('unknown_login');
    if (pending.expiresAt <= ctx.now()) return refuse('login_expired');

    let tokens;
    try {
      tokens = await ctx.oidc.finishLogin(new URL(request.url, ctx.config.publicUrl), pending);
    } catch (err) {
      if (err instanceof AuthorizationResponseError) return refuse(`op_${err.error}`);
      if (err instanceof ResponseBodyError) return refuse(`token_${err.error}`);
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('OAUTH_')) return refuse(code.toLowerCase());
      ctx.logger.error({ err }, 'code exchange failed');
      return sendProblem(reply.header('set-cookie', clearLogin), 'ERR_BFF_OP_UNAVAILABLE');
    }
    const { claims, idToken } = tokens;
    if (claims === undefined || idToken === undefined) return refuse('no_id_token');

    // A session this browser already had ends here: the new one never inherits its id.
    const previous = await ctx.sessions.end(readCookie(request.headers.cookie, ctx.cookies.names.session));
    if (previous !== undefined) void ctx.sessions.revokeAtOp(previous);

    let name = stringClaim(claims['name']) ?? stringClaim(claims['preferred_username']);
    if (name === undefined && ctx.config.oidc.scopes.includes('profile')) {
      try {
        const info = await ctx.oidc.userInfo(tokens.accessToken, claims.sub);
        name = stringClaim(info['name']) ?? stringClaim(info['preferred_username']);
      } catch (err) {
        // The name is a nicety: a UserInfo failure does not fail the login.
        ctx.logger.info({ err: { name: (err as Error).name } }, 'UserInfo unavailable');
      }
    }
    const { cookieValue, session } = await ctx.sessions.start(
      { ...tokens, idToken },
      claims.sub,
      name ?? null,
      stringClaim(claims['sid']) ?? null,
    );
    ctx.audit(request, {
      action: 'bff.login',
      outcome: 'success',
      sub: session.sub,
      details: { rotated: previous !== undefined },
    });
    return reply
      .code(303)
      .header('cache-control', 'no-store')
      .header('set-cookie', [
        clearLogin,
        serializeCookie(ctx.cookies, ctx.cookies.names.session, cookieValue, {
          maxAgeSec: ctx.config.session.absoluteTimeoutSec,
        }),
      ])
      .header('location', pending.returnTo)
      .send();
  });
}

const stringClaim = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

import type { FastifyInstance } from 'fastify';
import type { BffContext } from '../context.js';
import { createLogoutTokenVerifier, type LogoutTokenVerifier } from '../oidc/logout-token-verifier.js';

/**
 * POST /auth/backchannel-logout — OpenID Back-Channel Logout 1.0 §2.5: the OP posts a signed
 * `logout_token`; every session of that OP session (`sid`), or of the user (`sub` alone), ends.
 * No cookie and no Origin are involved (server to server), so the CSRF check does not apply; the
 * signed token is the authentication. Answers 200, or 400 with `invalid_request` (§2.8).
 */
export function registerBackchannelLogout(app: FastifyInstance, ctx: BffContext): { close(): void } {
  let verifier: LogoutTokenVerifier | undefined;

  async function verifierOf(): Promise<LogoutTokenVerifier> {
    if (verifier !== undefined) return verifier;
    const metadata = await ctx.oidc.metadata();
    if (metadata.jwks_uri === undefined) throw new Error('the OP publishes no jwks_uri');
    verifier = createLogoutTokenVerifier({
      issuer: metadata.issuer,
      clientId: ctx.config.oidc.clientId,
      jwksUri: metadata.jwks_uri,
      now: ctx.now,
    });
    return verifier;
  }

  app.post<{ Body: unknown }>(
    '/auth/backchannel-logout',
    { config: { csrf: false } },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const refuse = (reason: string) => {
        ctx.audit(request, { action: 'bff.backchannel_logout', outcome: 'failure', reason });
        return reply.code(400).send({ error: 'invalid_request' });
      };
      const body = request.body;
      const token = body instanceof URLSearchParams ? body.getAll('logout_token') : [];
      if (token.length !== 1 || token[0] === undefined || token[0] === '') return refuse('no_logout_token');
      let outcome;
      try {
        outcome = await (await verifierOf()).verify(token[0]);
      } catch (err) {
        ctx.logger.error({ err }, 'logout token could not be checked');
        return reply.code(503).send({ error: 'temporarily_unavailable' });
      }
      if ('refusal' in outcome) return refuse(outcome.refusal);
      const { sub, sid } = outcome.target;
      // §2.6/§2.7: with a sid, the sessions of that OP session (and user, when named); else all of the user's.
      const ended = await ctx.sessions.endMatching({
        ...(sid === undefined ? {} : { opSid: sid }),
        ...(sub === undefined ? {} : { sub }),
      });
      ctx.audit(request, {
        action: 'bff.backchannel_logout',
        outcome: 'success',
        sub,
        details: { sessions: ended.length },
      });
      return reply.code(200).send();
    },
  );

  return {
    close() {
      verifier?.close();
    },
  };
}

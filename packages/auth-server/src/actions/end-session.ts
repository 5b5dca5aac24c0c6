import { GatehouseError, isGatehouseError } from '@gatehouse/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { audit } from '../audit.js';
import type { Client } from '../clients/client.js';
import { sourceIpOf } from '../http/create-app.js';
import { queryParams, type Params } from '../http/params.js';
import { appendQuery } from '../interaction/authorization-request.js';
import type { InteractionContext } from '../interaction/context.js';
import { clearCookie, readCookie, serializeCookie } from '../interaction/cookies.js';
import { errorPage, pageErrorHandler } from '../interaction/flow.js';
import { cspSourceOf, logoutConfirmPage, messagePage, sendPage } from '../interaction/html.js';
import { csrfMatches } from '../interaction/interaction-store.js';
import type { Session } from '../interaction/session-store.js';
import { verifyIdTokenHint, type IdTokenHint } from '../oidc/id-token-hint.js';
import { endSession } from '../oidc/logout.js';
import { ENDPOINT_PATHS } from '../services.js';

interface Target {
  readonly client: Client | undefined;
  readonly postLogoutRedirectUri: string | null;
  readonly state: string | null;
}

/**
 * RP-Initiated Logout 1.0 (end_session_endpoint), GET and POST. With a valid `id_token_hint` for
 * the current user the session ends at once; otherwise the user confirms on a CSRF-protected page
 * (a third party cannot log the user out). `post_logout_redirect_uri` must exactly match one
 * registered for the client named by the hint or `client_id`: never an open redirect.
 */
export function registerEndSession(app: FastifyInstance, ctx: InteractionContext, prefix: string): void {
  const { services, cookies } = ctx;
  const { deps } = services;

  async function finish(
    request: FastifyRequest,
    reply: FastifyReply,
    session: Session | undefined,
    target: Target,
    status: 302 | 303,
  ): Promise<FastifyReply> {
    if (session !== undefined) {
      await endSession(ctx, session, {
        reason: 'logout',
        clientId: target.client?.clientId,
        sourceIp: sourceIpOf(request),
        requestId: request.id,
      });
    }
    const cleared = [clearCookie(cookies, cookies.session), clearCookie(cookies, cookies.logout)];
    if (target.postLogoutRedirectUri !== null) {
      return reply
        .code(status)
        .header('set-cookie', cleared)
        .header('location', appendQuery(target.postLogoutRedirectUri, { state: target.state }))
        .send();
    }
    return sendPage(reply, {
      status: 200,
      title: 'Signed out',
      body: messagePage('You are signed out.'),
      cookies: cleared,
    });
  }

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const params: Params = request.method === 'GET' ? queryParams(request.url) : (request.form ?? {});
    const session = await ctx.sessions.current(readCookie(request.headers.cookie, cookies.session));

    if (request.method === 'POST' && params['csrf'] !== undefined) {
      // The user's confirmation from our own page.
      const pending = await ctx.logouts.get(readCookie(request.headers.cookie, cookies.logout));
      if (pending === undefined || !csrfMatches(pending.csrf, params['csrf'])) {
        audit(deps, {
          action: 'csrf.refuse',
          outcome: 'failure',
          sourceIp: sourceIpOf(request),
          requestId: request.id,
          reason: 'logout',
        });
        return sendPage(reply, errorPage('ERR_OAUTH_CSRF_INVALID', 403));
      }
      if (!(await ctx.logouts.finish(pending)))
        return sendPage(reply, errorPage('ERR_OAUTH_CSRF_INVALID', 403));
      const client = pending.clientId === null ? undefined : await services.clients.get(pending.clientId);
      const target: Target = {
        client,
        // Re-checked: the client's registration may have changed since the page was shown.
        postLogoutRedirectUri:
          client !== undefined &&
          pending.postLogoutRedirectUri !== null &&
          client.postLogoutRedirectUris.includes(pending.postLogoutRedirectUri)
            ? pending.postLogoutRedirectUri
            : null,
        state: pending.state,
      };
      return finish(request, reply, session, target, 303);
    }

    let hint: IdTokenHint | undefined;
    let client: Client | undefined;
    try {
      const hintText = params['id_token_hint'];
      if (hintText !== undefined) hint = await verifyIdTokenHint(deps, services.keys, hintText);
      const clientId = params['client_id'];
      // RP-Initiated Logout §2: client_id and the hint's audience must agree.
      if (hint !== undefined && clientId !== undefined && clientId !== hint.clientId)
        throw refusal('client_id');
      const named = hint?.clientId ?? clientId;
      client = named === undefined ? undefined : await services.clients.get(named);
      if (named !== undefined && client === undefined) throw refusal('unknown client');
    } catch (err) {
      audit(deps, {
        action: 'logout',
        outcome: 'failure',
        sourceIp: sourceIpOf(request),
        requestId: request.id,
        reason: isGatehouseError(err) ? (err.detail ?? err.code) : 'error',
      });
      return sendPage(reply, errorPage('ERR_OAUTH_INVALID_REQUEST'));
    }
    const requested = params['post_logout_redirect_uri'];
    if (requested !== undefined && client?.postLogoutRedirectUris.includes(requested) !== true) {
      audit(deps, {
        action: 'logout',
        outcome: 'failure',
        clientId: client?.clientId,
        sourceIp: sourceIpOf(request),
        requestId: request.id,
        reason: 'post_logout_redirect_uri not registered',
      });
      return sendPage(reply, errorPage('ERR_OAUTH_INVALID_REQUEST'));
    }
    const target: Target = {
      client,
      postLogoutRedirectUri: requested ?? null,
      state: params['state'] ?? null,
    };
    const status = request.method === 'GET' ? 302 : 303;
    if (session === undefined) return finish(request, reply, undefined, target, status);
    const hintMatches =
      hint !== undefined && hint.sub === session.sub && (hint.sid === undefined || hint.sid === session.sid);
    if (hintMatches) return finish(request, reply, session, target, status);

    // No (matching) hint: the user confirms, so another site cannot sign them out.
    const pending = await ctx.logouts.start({
      clientId: client?.clientId ?? null,
      postLogoutRedirectUri: target.postLogoutRedirectUri,
      state: target.state,
    });
    return sendPage(reply, {
      status: 200,
      title: 'Sign out',
      body: logoutConfirmPage({
        action: services.endpoints.endSession,
        csrf: pending.csrf,
        clientName: client?.name,
      }),
      formTarget:
        target.postLogoutRedirectUri === null ? undefined : cspSourceOf(target.postLogoutRedirectUri),
      cookies: [serializeCookie(cookies, cookies.logout, pending.id, deps.config.login.interactionTtlSec)],
    });
  };

  app.route({
    method: ['GET', 'POST'],
    url: `${prefix}${ENDPOINT_PATHS.endSession}`,
    handler,
    errorHandler: pageErrorHandler,
  });
}

function refusal(detail: string): GatehouseError {
  return new GatehouseError('ERR_OAUTH_INVALID_REQUEST', { detail });
}

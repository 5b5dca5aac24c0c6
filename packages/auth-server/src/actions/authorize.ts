import { GatehouseError, isGatehouseError } from '@gatehouse/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { queryParams, type Params } from '../http/params.js';
import {
  checkRedirectUri,
  validateAuthorizationParams,
  type AuthorizationRequest,
} from '../interaction/authorization-request.js';
import type { InteractionContext } from '../interaction/context.js';
import { readCookie } from '../interaction/cookies.js';
import {
  auditRefusal,
  decide,
  errorPage,
  errorRedirect,
  pageErrorHandler,
  sendOutcome,
} from '../interaction/flow.js';
import { sendPage } from '../interaction/html.js';
import { ENDPOINT_PATHS } from '../services.js';

/**
 * The authorization endpoint (RFC 6749 §4.1.1, OAuth 2.1, OIDC Core §3.1.2), GET and POST. Until
 * the client and its redirect URI are known good, every error is a page, never a redirect (RFC
 * 9700 §4.1.3); after that, errors go back to the redirect URI with `state` and `iss` (RFC 9207).
 */
export function registerAuthorize(app: FastifyInstance, ctx: InteractionContext, prefix: string): void {
  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    let params: Params;
    try {
      params = request.method === 'GET' ? queryParams(request.url) : (request.form ?? fail());
    } catch (err) {
      // Repeated parameters (RFC 6749 §3.1) or no form: nothing can be trusted, not even the client.
      auditRefusal(ctx, request, undefined, err);
      return sendPage(reply, errorPage('ERR_OAUTH_INVALID_REQUEST'));
    }
    const clientId = params['client_id'];
    const client = clientId === undefined ? undefined : await ctx.services.clients.get(clientId);
    if (client === undefined) {
      auditRefusal(
        ctx,
        request,
        undefined,
        new GatehouseError('ERR_OAUTH_INVALID_REQUEST', { detail: 'client' }),
      );
      return sendPage(reply, errorPage('ERR_OAUTH_INVALID_REQUEST'));
    }

    let pushed = false;
    const requestUri = params['request_uri'];
    if (requestUri !== undefined) {
      // RFC 9126 §4: the pushed parameters replace the request's (only client_id must match).
      const stored = await ctx.par.consume(client.clientId, requestUri);
      if (stored === undefined) {
        const err = new GatehouseError('ERR_OAUTH_INVALID_REQUEST_URI');
        auditRefusal(ctx, request, client.clientId, err);
        return sendPage(reply, errorPage(err.code));
      }
      params = stored;
      pushed = true;
    }

    let redirectUri: string;
    try {
      redirectUri = checkRedirectUri(client, params);
    } catch (err) {
      auditRefusal(ctx, request, client.clientId, err);
      return sendPage(reply, errorPage('ERR_OAUTH_INVALID_REQUEST'));
    }

    let authz: AuthorizationRequest;
    try {
      authz = validateAuthorizationParams(client, redirectUri, params, { pushed });
    } catch (err) {
      if (!isGatehouseError(err)) throw err;
      auditRefusal(ctx, request, client.clientId, err);
      const location = errorRedirect(ctx, { redirectUri, state: params['state'] ?? null }, err);
      return reply.code(302).header('location', location).send();
    }

    const session = await ctx.sessions.current(readCookie(request.headers.cookie, ctx.cookies.session));
    return sendOutcome(reply, await decide(ctx, request, client, authz, session), 302);
  };

  app.route({
    method: ['GET', 'POST'],
    url: `${prefix}${ENDPOINT_PATHS.authorization}`,
    handler,
    errorHandler: pageErrorHandler,
  });
}

function fail(): never {
  throw new GatehouseError('ERR_OAUTH_INVALID_REQUEST', { detail: 'no form body' });
}

import { GatehouseError } from '@gatehouse/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { audit } from '../audit.js';
import { verifyDpopAtEndpoint } from '../dpop/verify-dpop.js';
import { formOf, sourceIpOf } from '../http/create-app.js';
import {
  CLIENT_AUTH_PARAMS,
  checkRedirectUri,
  validateAuthorizationParams,
} from '../interaction/authorization-request.js';
import type { InteractionContext } from '../interaction/context.js';
import { auditRefusal } from '../interaction/flow.js';
import { ENDPOINT_PATHS } from '../services.js';
import { authenticate, challengeBasic } from './token.js';

/**
 * Pushed authorization requests (RFC 9126): the client authenticates, the request is validated
 * exactly as at the authorization endpoint (one function), and its parameters are stored under a
 * one-time `request_uri` (201). A DPoP proof binds the future code to its key (RFC 9449 §10.1).
 * Errors are RFC 6749 §5.2 JSON, never redirects.
 */
export function registerPar(app: FastifyInstance, ctx: InteractionContext, prefix: string): void {
  const { services } = ctx;
  // RFC 6749 §5.2 (RFC 9126 §2: the token endpoint's client authentication): a failed HTTP Basic
  // attempt gets its `WWW-Authenticate: Basic` challenge here too.
  const onError = async (_request: FastifyRequest, reply: FastifyReply, err: unknown): Promise<void> => {
    challengeBasic(reply, services, err);
  };
  app.post(`${prefix}${ENDPOINT_PATHS.par}`, { onError }, async (request, reply) => {
    const form = formOf(request);
    const client = await authenticate(services, request, services.endpoints.par);
    try {
      if (form['client_id'] !== undefined && form['client_id'] !== client.clientId)
        throw new GatehouseError('ERR_OAUTH_INVALID_REQUEST', { detail: 'client_id differs' });
      const dpopProofJkt = await verifyDpopAtEndpoint(services, request, services.endpoints.par);
      const redirectUri = checkRedirectUri(client, form);
      const authz = validateAuthorizationParams(client, redirectUri, form, { pushed: true, dpopProofJkt });
      const stored: Record<string, string> = { client_id: client.clientId };
      for (const [name, value] of Object.entries(form)) {
        if (!CLIENT_AUTH_PARAMS.has(name)) stored[name] = value;
      }
      if (authz.dpopJkt !== null) stored['dpop_jkt'] = authz.dpopJkt;
      const pushed = await ctx.par.push(client.clientId, stored);
      audit(services.deps, {
        action: 'authorization.push',
        outcome: 'success',
        clientId: client.clientId,
        sourceIp: sourceIpOf(request),
        requestId: request.id,
      });
      return await reply
        .code(201)
        .header('content-type', 'application/json')
        .send(JSON.stringify({ request_uri: pushed.requestUri, expires_in: pushed.expiresIn }));
    } catch (err) {
      auditRefusal(ctx, request, client.clientId, err);
      throw err;
    }
  });
}

import { GatehouseError } from '@gatehouse/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { audit } from '../audit.js';
import { isPublic, type Client } from '../clients/client.js';
import { formOf, sourceIpOf } from '../http/create-app.js';
import { required } from '../http/params.js';
import { ENDPOINT_PATHS, type AuthServerServices } from '../services.js';
import { findToken, type FoundToken } from '../tokens/find-token.js';
import { authenticate, challengeBasic } from './token.js';

/** RFC 9701 §4: the media type of a signed introspection response. */
export const INTROSPECTION_JWT = 'application/token-introspection+jwt';

const seconds = (ms: number): number => Math.floor(ms / 1000);

/**
 * RFC 7662 §2.2 with RFC 7800 §3.1 / RFC 9449 §6.2 / RFC 8705 §3.2: the confirmation a resource
 * server checks (DPoP key thumbprint, certificate thumbprint), omitted for an unbound token.
 */
function confirmation(jkt: string | null, x5tS256: string | null): Record<string, unknown> {
  const cnf = {
    ...(jkt === null ? {} : { jkt }),
    ...(x5tS256 === null ? {} : { 'x5t#S256': x5tS256 }),
  };
  return Object.keys(cnf).length === 0 ? {} : { cnf };
}

/** Whether the `Accept` header asks for a JWT response (RFC 9701 §4), ignoring `q=0` ranges. */
function wantsJwt(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  return accept.split(',').some((range) => {
    const [type, ...parameters] = range.split(';').map((part) => part.trim().toLowerCase());
    return type === INTROSPECTION_JWT && !parameters.some((p) => /^q=0(\.0*)?$/.test(p));
  });
}

/**
 * The RFC 7662 §2.2 answer for a token: `{ active: false }` and nothing else when the token is
 * unknown, expired, revoked, or not the caller's to see (a refresh token of another client).
 */
function describe(
  services: AuthServerServices,
  caller: Client,
  found: FoundToken | undefined,
): Record<string, unknown> {
  if (found === undefined || !found.active) return { active: false };
  const { issuer } = services.deps.config;
  if (found.kind === 'access_token') {
    const { row } = found;
    return {
      active: true,
      ...(row.scope === '' ? {} : { scope: row.scope }),
      client_id: row.client_id,
      sub: row.sub,
      ...(row.audience === null ? {} : { aud: row.audience }),
      exp: seconds(row.expires_at),
      iat: seconds(row.created_at),
      iss: issuer,
      jti: row.jti,
      token_type: row.dpop_jkt === null ? 'Bearer' : 'DPoP',
      ...confirmation(row.dpop_jkt, row.x5t_s256),
    };
  }
  const { row, grant } = found;
  // Refresh tokens are for their own client only (RFC 7662 §4: answers may differ per caller).
  if (grant === undefined || row.client_id !== caller.clientId) return { active: false };
  return {
    active: true,
    ...(row.scope === '' ? {} : { scope: row.scope }),
    client_id: row.client_id,
    sub: grant.sub,
    exp: seconds(Math.min(row.idle_expires_at, grant.expires_at)),
    iat: seconds(row.created_at),
    iss: issuer,
    ...confirmation(grant.dpop_jkt, grant.x5t_s256),
  };
}

/**
 * Token introspection (RFC 7662) for authenticated resource servers. Authorization (§2.1, "MUST
 * require some form of authorization"): the caller must be a confidential client registered with
 * `can_introspect`. An authenticated caller without it gets `{ "active": false }` for every
 * token, as node-oidc-provider answers when its `allowedPolicy` says no: no oracle about other
 * clients' tokens (§4), no different status for a scanner to learn from; the refusal is audited.
 * A public client cannot authenticate, so it gets 401 `invalid_client` (§2.3). With
 * `Accept: application/token-introspection+jwt` the answer is a signed JWT (RFC 9701).
 */
export function registerIntrospect(app: FastifyInstance, services: AuthServerServices, prefix: string): void {
  const { deps, endpoints, keys } = services;
  async function introspect(request: FastifyRequest): Promise<[string, string]> {
    const params = formOf(request);
    const client = await authenticate(services, request, endpoints.introspection);
    if (isPublic(client)) {
      audit(deps, {
        action: 'client.auth_failed',
        outcome: 'failure',
        clientId: client.clientId,
        sourceIp: sourceIpOf(request),
        requestId: request.id,
        reason: 'public client at introspection',
      });
      throw new GatehouseError('ERR_OAUTH_INVALID_CLIENT', {
        detail: 'introspection needs client authentication',
      });
    }
    const token = required(params, 'token');
    let answer: Record<string, unknown>;
    if (client.canIntrospect) {
      const found = await findToken(services, token, params['token_type_hint']);
      answer = describe(services, client, found);
      audit(deps, {
        action: 'token.introspect',
        outcome: 'success',
        clientId: client.clientId,
        sourceIp: sourceIpOf(request),
        requestId: request.id,
        details: { active: answer['active'] === true, kind: found?.kind ?? 'unknown' },
      });
    } else {
      answer = { active: false };
      audit(deps, {
        action: 'token.introspect',
        outcome: 'failure',
        clientId: client.clientId,
        sourceIp: sourceIpOf(request),
        requestId: request.id,
        reason: 'client not allowed to introspect',
      });
    }
    if (wantsJwt(request.headers.accept)) {
      // RFC 9701 §5: iss, aud (the caller), iat, and the answer nested in token_introspection.
      const { jwt } = await keys.sign(
        {
          iss: deps.config.issuer,
          aud: client.clientId,
          iat: seconds(deps.now()),
          token_introspection: answer,
        },
        'token-introspection+jwt',
      );
      return [INTROSPECTION_JWT, jwt];
    }
    return ['application/json', JSON.stringify(answer)];
  }

  const onError = async (_request: FastifyRequest, reply: FastifyReply, err: unknown): Promise<void> => {
    challengeBasic(reply, services, err);
  };
  app.post(`${prefix}${ENDPOINT_PATHS.introspection}`, { onError }, async (request, reply) => {
    const [contentType, payload] = await introspect(request);
    return reply.header('content-type', contentType).send(payload);
  });
}

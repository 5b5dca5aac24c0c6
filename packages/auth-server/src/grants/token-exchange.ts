import { GatehouseError } from '@gatehouse/core';
import { isPublic } from '../clients/client.js';
import { required } from '../http/params.js';
import { findToken } from '../tokens/find-token.js';
import { issueAccessToken } from '../tokens/issue-access-token.js';
import { afterIssue, revokeAccessToken } from '../tokens/revoke-tokens.js';
import { invalidGrant, isConfiguredResource, requestedScopes, type GrantHandler } from './grant-context.js';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

const invalidRequest = (detail: string): GatehouseError =>
  new GatehouseError('ERR_OAUTH_INVALID_REQUEST', { detail });

/**
 * Token exchange (RFC 8693) for the phantom-token pattern: a confidential client (the gateway)
 * swaps an access token issued here (opaque or JWT) for a short JWT for exactly one configured
 * resource. The new token keeps the subject token's `sub` and `client_id`, is never longer-lived
 * than the subject token, carries no `cnf` (it travels service to service over mTLS), and records
 * `parent_jti` (and the grant), so revoking the subject token revokes it too. Only impersonation
 * semantics: `actor_token` (delegation, §1.1) is refused.
 */
export const tokenExchangeGrant: GrantHandler = async (context) => {
  const { services, client, params } = context;
  const { deps } = services;
  if (isPublic(client)) {
    throw new GatehouseError('ERR_OAUTH_UNAUTHORIZED_CLIENT', { detail: 'public client' });
  }
  const subjectToken = required(params, 'subject_token');
  if (required(params, 'subject_token_type') !== ACCESS_TOKEN_TYPE) {
    throw invalidRequest('unsupported subject_token_type');
  }
  if (params['actor_token'] !== undefined || params['actor_token_type'] !== undefined) {
    throw invalidRequest('delegation (actor_token) is not supported');
  }
  const requestedType = params['requested_token_type'] ?? JWT_TOKEN_TYPE;
  if (requestedType !== JWT_TOKEN_TYPE && requestedType !== ACCESS_TOKEN_TYPE) {
    throw invalidRequest('unsupported requested_token_type');
  }
  // One audience per token: exactly one of resource (RFC 8693 §2.1, RFC 8707) and audience.
  const resource = params['resource'];
  const audienceParam = params['audience'];
  if ((resource === undefined) === (audienceParam === undefined)) {
    throw invalidRequest('exactly one of resource and audience');
  }
  const target = (resource ?? audienceParam) as string;
  if (!isConfiguredResource(deps, target)) {
    throw new GatehouseError('ERR_OAUTH_INVALID_TARGET', { detail: 'target is not a configured resource' });
  }

  const subject = await findToken(services, subjectToken, 'access_token');
  if (subject?.kind !== 'access_token' || !subject.active) throw invalidGrant('subject token inactive');
  const parent = subject.row;
  // An internal token is not exchanged again (no audience hopping from a resource server).
  if (parent.parent_jti !== null) throw invalidGrant('subject token is itself an exchanged token');
  const originalClient = await services.clients.get(parent.client_id);
  if (originalClient === undefined) throw invalidGrant('client of the subject token is gone');
  // RFC 9700 §4.10, RFC 8707 §2: the new token acts as the subject token's client, so it may only
  // be for an audience that client could obtain itself: no audience hopping through the exchange.
  if (!originalClient.resources.includes(target)) {
    throw new GatehouseError('ERR_OAUTH_INVALID_TARGET', {
      detail: 'target not registered for the client of the subject token',
    });
  }

  const resourceScopes = deps.config.resources.find((r) => r.id === target)?.scopes ?? [];
  const allowed = (parent.scope === '' ? [] : parent.scope.split(' ')).filter((s) =>
    resourceScopes.includes(s),
  );
  const scopes = requestedScopes(params['scope'], allowed, allowed);
  const remainingSec = Math.floor((parent.expires_at - deps.now()) / 1000);
  const ttlSec = Math.min(deps.config.tokens.exchangeTtlSec, remainingSec);
  if (ttlSec <= 0) throw invalidGrant('subject token about to expire');

  const access = await issueAccessToken(deps, services.keys, {
    client: originalClient,
    sub: parent.sub,
    scopes,
    audience: target,
    grantId: parent.grant_id,
    dpopJkt: null,
    x5tS256: null,
    ttlSec,
    format: 'jwt',
    parentJti: parent.jti,
  });
  // A revocation of the subject token racing with this exchange also reaches the new token.
  const current = await deps.db
    .selectFrom('access_tokens')
    .select('revoked_at')
    .where('jti', '=', parent.jti)
    .executeTakeFirst();
  if (current?.revoked_at != null) await revokeAccessToken(deps, access.jti);
  if (parent.grant_id !== null) await afterIssue(deps, parent.grant_id);
  return {
    // RFC 8693 §2.2.1: issued_token_type; token_type Bearer as the token is an access token.
    body: {
      access_token: access.token,
      issued_token_type: requestedType,
      token_type: 'Bearer',
      expires_in: access.expiresIn,
      ...(access.scope === '' ? {} : { scope: access.scope }),
    },
    sub: parent.sub,
    format: 'jwt',
    details: { subject_client: parent.client_id, audience: target },
  };
};

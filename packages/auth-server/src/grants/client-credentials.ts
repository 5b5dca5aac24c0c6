import { GatehouseError } from '@gatehouse/core';
import { isPublic } from '../clients/client.js';
import { requestedScopes, resolveResource, type GrantHandler } from './grant-context.js';
import { issueTokenSet } from './token-set.js';

/**
 * `client_credentials` (RFC 6749 §4.4): confidential clients only, acting for themselves
 * (`sub` = client_id, RFC 9068 §2.2); no refresh token (§4.4.3). RFC 6749 §3.3: an omitted
 * `scope` means the client's registered default, which is every scope it is registered for.
 */
export const clientCredentialsGrant: GrantHandler = async (context) => {
  const { services, client, params } = context;
  if (isPublic(client)) {
    throw new GatehouseError('ERR_OAUTH_UNAUTHORIZED_CLIENT', { detail: 'public client' });
  }
  const scopes = requestedScopes(params['scope'], client.scopes, client.scopes);
  const audience = resolveResource(services.deps, client, params['resource']);
  const dpopJkt = context.dpopJkt ?? null;
  const { access, body } = await issueTokenSet(services, {
    client,
    sub: client.clientId,
    scopes,
    audience,
    grantId: null,
    dpopJkt,
    x5tS256: context.x5tS256 ?? null,
  });
  return {
    body,
    sub: client.clientId,
    format: access.format,
    details: { dpop: dpopJkt !== null, mtls: context.x5tS256 !== undefined },
  };
};

import { GatehouseError, hashToken } from '@gatehouse/core';
import { audit } from '../audit.js';
import { required } from '../http/params.js';
import {
  findGrant,
  findRefreshToken,
  graceSuccessor,
  newRefreshToken,
  rotateRefreshToken,
  type GrantRow,
  type RefreshTokenRow,
} from '../tokens/refresh-tokens.js';
import { afterIssue, revokeGrant } from '../tokens/revoke-tokens.js';
import {
  invalidGrant,
  refreshLifetimes,
  requestedScopes,
  type GrantContext,
  type GrantHandler,
  type GrantResult,
} from './grant-context.js';
import { issueTokenSet } from './token-set.js';

/** RFC 9700 §4.14.2: a rotated token presented again: the family is revoked and the event audited. */
async function onReuse(context: GrantContext, row: RefreshTokenRow, grant: GrantRow): Promise<never> {
  const { deps } = context.services;
  const revoked = await revokeGrant(deps, row.grant_id, 'refresh_reuse');
  audit(deps, {
    action: 'token.reuse_detected',
    outcome: 'failure',
    sub: grant.sub,
    clientId: context.client.clientId,
    sourceIp: context.sourceIp,
    requestId: context.requestId,
    target: { type: 'grant', id: row.grant_id },
    reason: 'refresh_token_reused',
    details: { tokens_revoked: revoked },
  });
  throw invalidGrant('rotated refresh token reused; its family is revoked');
}

/**
 * A repeated presentation of a just-rotated token within `refreshGraceSec` (concurrent
 * refreshes of one client): answered with the same successor the first request got, so the
 * family keeps a single live refresh token. Only for the immediate predecessor of the live
 * token; the caller has already checked the client and the DPoP key.
 */
async function graceAnswer(context: GrantContext, row: RefreshTokenRow): Promise<string | undefined> {
  const { deps } = context.services;
  const graceMs = deps.config.tokens.refreshGraceSec * 1000;
  if (graceMs === 0 || row.rotated_at === null || row.replaced_by === null) return undefined;
  if (deps.now() - row.rotated_at > graceMs) return undefined;
  const successor = await findRefreshToken(deps, row.replaced_by);
  if (successor === undefined || successor.rotated_at !== null || successor.revoked_at !== null) {
    return undefined;
  }
  return graceSuccessor(deps, row);
}

/** The token's scope (and the client's current scopes): RFC 6749 §6, a refresh may only narrow. */
function scopesOf(context: GrantContext, row: RefreshTokenRow): string[] {
  const granted = (row.scope === '' ? [] : row.scope.split(' ')).filter((s) =>
    context.client.scopes.includes(s),
  );
  return requestedScopes(context.params['scope'], granted, granted);
}

/**
 * `refresh_token` (RFC 6749 §6, OAuth 2.1 §4.3, RFC 9700 §4.14): rotation on every use by an
 * atomic compare-and-set; reuse of a rotated token revokes the family; idle and absolute expiry;
 * a public client's DPoP-bound family needs a proof of the same key (RFC 9449 §5).
 */
export const refreshTokenGrant: GrantHandler = async (context) => {
  const { services, client, params } = context;
  const { deps } = services;
  const presented = required(params, 'refresh_token');
  let row = await findRefreshToken(deps, hashToken(presented));
  if (row === undefined) throw invalidGrant('unknown refresh token');
  if (row.client_id !== client.clientId) throw invalidGrant('refresh token of another client');
  const grant = await findGrant(deps, row.grant_id);
  if (grant === undefined || grant.revoked_at !== null || row.revoked_at !== null) {
    throw invalidGrant('refresh token revoked');
  }
  const now = deps.now();
  if (now >= grant.expires_at) throw invalidGrant('refresh family reached its absolute lifetime');
  if (now >= row.idle_expires_at) throw invalidGrant('refresh token idle-expired');
  if (grant.dpop_jkt !== null && context.dpopJkt !== grant.dpop_jkt) {
    throw invalidGrant('DPoP proof key does not match the refresh token binding');
  }
  // RFC 8705 §4: a public client's certificate-bound refresh token needs that same certificate.
  if (grant.x5t_s256 !== null && context.x5tS256 !== grant.x5t_s256) {
    throw invalidGrant('client certificate does not match the refresh token binding');
  }
  const scopes = scopesOf(context, row);
  const requestedResource = params['resource'];
  // RFC 8707 §2.2: the one audience of the grant; a different resource is not within it.
  if (requestedResource !== undefined && requestedResource !== grant.resource) {
    throw new GatehouseError('ERR_OAUTH_INVALID_TARGET', { detail: 'resource outside the grant' });
  }

  let refreshToken: string | undefined;
  let grace = false;
  if (row.rotated_at === null) {
    const successor = newRefreshToken(deps, grant, refreshLifetimes(deps, client).idleSec);
    if (await rotateRefreshToken(deps, row, successor)) {
      refreshToken = successor.token;
    } else {
      // Lost the race: read the row as the winner left it.
      row = (await findRefreshToken(deps, row.token_hash)) ?? row;
    }
  }
  if (refreshToken === undefined) {
    if (row.revoked_at !== null) throw invalidGrant('refresh token revoked');
    refreshToken = await graceAnswer(context, row);
    if (refreshToken === undefined) return onReuse(context, row, grant);
    grace = true;
  }

  const dpopJkt = context.dpopJkt ?? null;
  const x5tS256 = context.x5tS256 ?? null;
  const { access, body } = await issueTokenSet(services, {
    client,
    sub: grant.sub,
    scopes,
    audience: grant.resource,
    grantId: grant.grant_id,
    dpopJkt,
    x5tS256,
    refreshToken,
    // OIDC Core §12.2: an ID token may come with the refresh response (no nonce).
    idToken: { nonce: null, authTime: grant.auth_time ?? grant.created_at, sid: grant.sid },
  });
  await afterIssue(deps, grant.grant_id);
  const result: GrantResult = {
    body,
    sub: grant.sub,
    format: access.format,
    details: { refresh_token: true, dpop: dpopJkt !== null, mtls: x5tS256 !== null, grace },
  };
  return result;
};

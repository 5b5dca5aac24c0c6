import { createHash, timingSafeEqual } from 'node:crypto';
import { GatehouseError, precompiledQuery } from '@gatehouse/core';
import type { Kysely } from 'kysely';
import { audit } from '../audit.js';
import { isPublic } from '../clients/client.js';
import type { AuthDatabase } from '../db/schema.js';
import { required } from '../http/params.js';
import { ensureGrant, newRefreshToken, storeRefreshToken, type GrantRow } from '../tokens/refresh-tokens.js';
import { afterIssue, revokeGrant } from '../tokens/revoke-tokens.js';
import {
  consumeAuthorizationCode,
  findAuthorizationCode,
  type AuthorizationCodeRow,
} from './authorization-code-store.js';
import {
  invalidGrant,
  isConfiguredResource,
  refreshLifetimes,
  resolveResource,
  type GrantContext,
  type GrantHandler,
} from './grant-context.js';
import { issueTokenSet } from './token-set.js';

/** RFC 7636 §4.1: code_verifier = 43*128 unreserved characters. */
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

/** RFC 7636 §4.6: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge (S256 only). */
function pkceMatches(verifier: string | undefined, challenge: string): boolean {
  if (verifier === undefined || !CODE_VERIFIER.test(verifier)) return false;
  const computed = Buffer.from(createHash('sha256').update(verifier, 'ascii').digest('base64url'));
  const expected = Buffer.from(challenge);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}

/** RFC 6749 §4.1.2 / RFC 9700 §4.5: a code presented twice revokes what it already produced. */
async function onReplay(context: GrantContext, row: AuthorizationCodeRow): Promise<never> {
  const { deps } = context.services;
  await ensureGrant(deps, grantFromCode(context, row, row.resource, null));
  const revoked = await revokeGrant(deps, row.grant_id, 'code_replay');
  audit(deps, {
    action: 'token.reuse_detected',
    outcome: 'failure',
    sub: row.sub,
    clientId: context.client.clientId,
    sourceIp: context.sourceIp,
    requestId: context.requestId,
    target: { type: 'grant', id: row.grant_id },
    reason: 'authorization_code_replayed',
    details: { tokens_revoked: revoked },
  });
  throw invalidGrant('authorization code replayed; its grant is revoked');
}

function grantFromCode(
  context: GrantContext,
  row: AuthorizationCodeRow,
  audience: string | null,
  dpopJkt: string | null,
  x5tS256: string | null = null,
): GrantRow {
  const { deps } = context.services;
  const now = deps.now();
  return {
    grant_id: row.grant_id,
    client_id: row.client_id,
    sub: row.sub,
    scope: row.scope,
    resource: audience,
    sid: row.sid,
    auth_time: row.auth_time,
    dpop_jkt: dpopJkt,
    created_at: now,
    expires_at: now + refreshLifetimes(deps, context.client).absoluteSec * 1000,
    revoked_at: null,
    revoked_reason: null,
    x5t_s256: x5tS256,
  };
}

/**
 * The audience of the tokens: the resource authorized with the code (or the client's default when
 * none was named); a `resource` at the token endpoint may only repeat it (RFC 8707 §2.2: one
 * audience per token, so "narrower" is the same one).
 */
function audienceOf(context: GrantContext, row: AuthorizationCodeRow): string | null {
  const { deps } = context.services;
  const authorized = row.resource ?? resolveResource(deps, context.client, undefined);
  if (authorized !== null && !isConfiguredResource(deps, authorized)) {
    throw new GatehouseError('ERR_OAUTH_INVALID_TARGET', {
      detail: 'authorized resource no longer configured',
    });
  }
  const requested = context.params['resource'];
  if (requested !== undefined && requested !== authorized) {
    throw new GatehouseError('ERR_OAUTH_INVALID_TARGET', {
      detail: 'resource differs from the authorized one',
    });
  }
  return authorized;
}

/** Records that a login session has this client (built once: every code exchange runs it). */
const addSessionClient = precompiledQuery(
  ['sid', 'clientId'],
  (db: Kysely<AuthDatabase>, { sid, clientId }: { sid: string; clientId: string }) =>
    db
      .insertInto('session_clients')
      .values({ sid, client_id: clientId })
      .onConflict((oc) => oc.columns(['sid', 'client_id']).doNothing()),
);

/**
 * `authorization_code` (RFC 6749 §4.1.3, OAuth 2.1 §4.1.3, RFC 7636 §4.5-4.6): every check
 * happens before the code is consumed (a failed attempt does not burn the user's code), then one
 * compare-and-set decides the single winner; a second presentation is a replay.
 */
export const authorizationCodeGrant: GrantHandler = async (context) => {
  const { services, client, params } = context;
  const { deps } = services;
  const code = required(params, 'code');
  const redirectUri = required(params, 'redirect_uri');

  const row = await findAuthorizationCode(deps, code);
  if (row === undefined) throw invalidGrant('unknown authorization code');
  // Checked before replay handling: another client cannot revoke this client's grant.
  if (row.client_id !== client.clientId) throw invalidGrant('code issued to another client');
  if (row.consumed_at !== null) return onReplay(context, row);
  if (deps.now() >= row.expires_at) throw invalidGrant('authorization code expired');
  // RFC 6749 §4.1.3: identical to the redirect_uri of the authorization request.
  if (redirectUri !== row.redirect_uri) throw invalidGrant('redirect_uri mismatch');
  if (!pkceMatches(params['code_verifier'], row.code_challenge))
    throw invalidGrant('PKCE verification failed');
  // RFC 9449 §10: a code bound with dpop_jkt is redeemed only with a proof of that key.
  if (row.dpop_jkt !== null && context.dpopJkt !== row.dpop_jkt) {
    throw invalidGrant('DPoP proof key does not match dpop_jkt');
  }
  const audience = audienceOf(context, row);

  const dpopJkt = context.dpopJkt ?? null;
  const x5tS256 = context.x5tS256 ?? null;
  // RFC 9449 §5, RFC 8705 §4: a public client's refresh tokens are bound to its DPoP key and to
  // its certificate; a confidential client's are bound to its authentication instead.
  const grant = isPublic(client)
    ? grantFromCode(context, row, audience, dpopJkt, x5tS256)
    : grantFromCode(context, row, audience, null);
  const fresh = client.grantTypes.includes('refresh_token')
    ? newRefreshToken(deps, grant, refreshLifetimes(deps, client).idleSec)
    : undefined;
  // The code is consumed in one transaction with what it grants: the grant, its refresh token and
  // the session's client (OIDC Back-Channel Logout §2.6: the clients of a session are notified when
  // it ends). A crash cannot leave a used code without its grant, and it is one commit, not four.
  const won = await deps.db.transaction().execute(async (trx) => {
    const tx = { ...deps, db: trx };
    if (!(await consumeAuthorizationCode(tx, row.code_hash))) return false;
    await ensureGrant(tx, grant);
    if (fresh !== undefined) await storeRefreshToken(tx, fresh);
    await addSessionClient(trx, { sid: row.sid, clientId: client.clientId });
    return true;
  });
  if (!won) return onReplay(context, row);
  const refreshToken = fresh?.token;
  const scopes = row.scope === '' ? [] : row.scope.split(' ');
  const { access, body } = await issueTokenSet(services, {
    client,
    sub: row.sub,
    scopes,
    audience,
    grantId: row.grant_id,
    dpopJkt,
    x5tS256,
    refreshToken,
    idToken: { nonce: row.nonce, authTime: row.auth_time, sid: row.sid },
  });
  // A concurrent replay may have revoked the grant while these were recorded: they die with it.
  await afterIssue(deps, row.grant_id);
  return {
    body,
    sub: row.sub,
    format: access.format,
    details: { refresh_token: refreshToken !== undefined, dpop: dpopJkt !== null, mtls: x5tS256 !== null },
  };
};

import { hashToken, randomToken } from '@gatehouse/core';
import type { Client, TokenFormat } from '../clients/client.js';
import type { AuthServerDeps } from '../context.js';
import type { KeyService } from '../keys/key-service.js';

export interface AccessTokenRequest {
  readonly client: Client;
  /** The user, or the client itself for client credentials (RFC 9068 §2.2). */
  readonly sub: string;
  readonly scopes: readonly string[];
  /** RFC 8707 resource (one audience per token); null when none was requested or registered. */
  readonly audience: string | null;
  readonly grantId: string | null;
  /** RFC 9449 §6: thumbprint of the DPoP key the token is bound to. */
  readonly dpopJkt: string | null;
  /** Overrides the lifetime (token exchange). */
  readonly ttlSec?: number;
  /** Overrides the client's format (token exchange always issues a JWT). */
  readonly format?: TokenFormat;
  /** The token this one is exchanged from (RFC 8693); revoked together. */
  readonly parentJti?: string | null;
}

export interface IssuedAccessToken {
  readonly token: string;
  readonly jti: string;
  readonly tokenType: 'Bearer' | 'DPoP';
  readonly expiresIn: number;
  readonly expiresAt: number;
  readonly scope: string;
  readonly audience: string;
  readonly format: TokenFormat;
}

/** Lifetime: the request's, else the client's, else the resource's, else the server default. */
export function accessTokenTtl(
  deps: Pick<AuthServerDeps, 'config'>,
  client: Client,
  audience: string | null,
): number {
  const resource = deps.config.resources.find((r) => r.id === audience);
  return client.accessTokenTtlSec ?? resource?.accessTokenTtlSec ?? deps.config.tokens.accessTokenTtlSec;
}

/**
 * Issues an access token in the client's format and records it: opaque tokens (256-bit random,
 * stored as SHA-256, looked up at introspection) or RFC 9068 JWTs with only `iss`, `sub`, `aud`,
 * `exp`, `iat`, `jti`, `client_id`, `scope` (and `cnf.jkt` when DPoP-bound): small, no personal data.
 * Every JWT is recorded by `jti` so revocation can stop it (introspection, revocation events).
 */
export async function issueAccessToken(
  deps: Pick<AuthServerDeps, 'config' | 'db' | 'now'>,
  keys: KeyService,
  request: AccessTokenRequest,
): Promise<IssuedAccessToken> {
  const { client } = request;
  const now = deps.now();
  const iat = Math.floor(now / 1000);
  const ttl = request.ttlSec ?? accessTokenTtl(deps, client, request.audience);
  const exp = iat + ttl;
  const format = request.format ?? client.tokenFormat;
  const scope = request.scopes.join(' ');
  // RFC 9068 §2.2 requires aud; a token for no resource is for the issuer itself (UserInfo).
  const audience = request.audience ?? deps.config.issuer;
  const jti = randomToken(16);
  let token: string;
  let kid: string | null = null;
  if (format === 'jwt') {
    const claims: Record<string, unknown> = {
      iss: deps.config.issuer,
      sub: request.sub,
      aud: audience,
      exp,
      iat,
      jti,
      client_id: client.clientId,
      ...(scope === '' ? {} : { scope }),
      ...(request.dpopJkt === null ? {} : { cnf: { jkt: request.dpopJkt } }),
    };
    const signed = await keys.sign(claims, 'at+jwt');
    token = signed.jwt;
    kid = signed.kid;
  } else {
    token = randomToken();
  }
  await deps.db
    .insertInto('access_tokens')
    .values({
      jti,
      format,
      token_hash: format === 'opaque' ? hashToken(token) : null,
      grant_id: request.grantId,
      client_id: client.clientId,
      sub: request.sub,
      scope,
      audience,
      dpop_jkt: request.dpopJkt,
      kid,
      parent_jti: request.parentJti ?? null,
      created_at: now,
      expires_at: exp * 1000,
      revoked_at: null,
    })
    .execute();
  return {
    token,
    jti,
    tokenType: request.dpopJkt === null ? 'Bearer' : 'DPoP',
    expiresIn: ttl,
    expiresAt: exp * 1000,
    scope,
    audience,
    format,
  };
}

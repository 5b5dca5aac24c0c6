import { hashToken, precompiledQuery } from '@gatehouse/core';
import { createVerifier, type Verifier } from '@gatehouse/guard';
import type { JWK } from 'jose';
import type { Kysely, Selectable } from 'kysely';
import type { AccessTokenTable, AuthDatabase } from '../db/schema.js';
import type { AuthServerServices } from '../services.js';
import { findGrant, findRefreshToken, type GrantRow, type RefreshTokenRow } from './refresh-tokens.js';

export type AccessTokenRow = Selectable<AccessTokenTable>;

export type FoundToken =
  | { readonly kind: 'access_token'; readonly row: AccessTokenRow; readonly active: boolean }
  | {
      readonly kind: 'refresh_token';
      readonly row: RefreshTokenRow;
      readonly grant: GrantRow | undefined;
      readonly active: boolean;
    };

const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Our tokens live far shorter; the database row decides expiry exactly. */
const MAX_TOKEN_AGE_SEC = 10 * 366 * 86_400;

const verifiers = new WeakMap<AuthServerServices, { keys: { keys: JWK[] }; verifier: Verifier }>();

/**
 * Guard's verifier over the server's own published keys (pending, active, retiring), rebuilt when
 * the key set changes. Every audience this server issues for is accepted; `typ` must be `at+jwt`.
 */
async function ownVerifier(services: AuthServerServices): Promise<Verifier> {
  const keys = await services.keys.jwks();
  const cached = verifiers.get(services);
  if (cached?.keys === keys) return cached.verifier;
  const { config } = services.deps;
  const verifier = createVerifier({
    issuer: config.issuer,
    audience: [config.issuer, ...config.resources.map((r) => r.id)],
    jwks: keys,
    typ: 'at+jwt',
    requiredClaims: ['iss', 'aud', 'exp', 'iat', 'sub', 'jti'],
    maxTokenAgeSec: MAX_TOKEN_AGE_SEC,
    clockToleranceSec: 0,
    now: services.deps.now,
  });
  cached?.verifier.close();
  verifiers.set(services, { keys, verifier });
  return verifier;
}

/** An access token and the revocation of its grant, by `jti` or by hash (built once: a hot path). */
const accessTokenQuery = (column: 'jti' | 'token_hash') =>
  precompiledQuery(['value'], (db: Kysely<AuthDatabase>, { value }: { value: string }) =>
    db
      .selectFrom('access_tokens')
      .leftJoin('grants', 'grants.grant_id', 'access_tokens.grant_id')
      .selectAll('access_tokens')
      .select('grants.revoked_at as grant_revoked_at')
      .where(`access_tokens.${column}`, '=', value),
  );
const ACCESS_TOKEN_BY = { jti: accessTokenQuery('jti'), token_hash: accessTokenQuery('token_hash') };

async function accessTokenBy(
  services: AuthServerServices,
  column: 'jti' | 'token_hash',
  value: string,
): Promise<FoundToken | undefined> {
  const [row] = await ACCESS_TOKEN_BY[column](services.deps.db, { value });
  if (row === undefined) return undefined;
  const { grant_revoked_at: grantRevokedAt, ...token } = row;
  const active =
    token.revoked_at === null && grantRevokedAt === null && services.deps.now() < token.expires_at;
  return { kind: 'access_token', row: token, active };
}

async function refreshTokenBy(services: AuthServerServices, hash: string): Promise<FoundToken | undefined> {
  const row = await findRefreshToken(services.deps, hash);
  if (row === undefined) return undefined;
  const grant = await findGrant(services.deps, row.grant_id);
  const now = services.deps.now();
  const active =
    grant !== undefined &&
    grant.revoked_at === null &&
    row.revoked_at === null &&
    // A rotated token is spent (its grace window serves only the concurrent refresh itself).
    row.rotated_at === null &&
    now < row.idle_expires_at &&
    now < grant.expires_at;
  return { kind: 'refresh_token', row, grant, active };
}

/**
 * Finds a token this server issued, whatever its kind (RFC 7662 §2.1, RFC 7009 §2.1: the hint
 * only orders the search). A JWT access token is verified (signature by a published key, issuer,
 * `typ`, expiry) and then looked up by `jti`; opaque access and refresh tokens by their hash.
 */
export async function findToken(
  services: AuthServerServices,
  token: string,
  hint?: string,
): Promise<FoundToken | undefined> {
  if (JWS_COMPACT.test(token)) {
    let jti: string | undefined;
    try {
      jti = (await (await ownVerifier(services)).verify(token)).jti;
    } catch {
      return undefined;
    }
    return jti === undefined ? undefined : accessTokenBy(services, 'jti', jti);
  }
  const hash = hashToken(token);
  if (hint === 'refresh_token') {
    return (await refreshTokenBy(services, hash)) ?? (await accessTokenBy(services, 'token_hash', hash));
  }
  return (await accessTokenBy(services, 'token_hash', hash)) ?? (await refreshTokenBy(services, hash));
}

import {
  createBatchWriter,
  GatehouseError,
  hashToken,
  precompiledInsert,
  randomToken,
  type BatchWriter,
} from '@gatehouse/core';
import type { Kysely } from 'kysely';
import type { Client, TokenFormat } from '../clients/client.js';
import type { AuthServerDeps } from '../context.js';
import type { AccessTokenTable, AuthDatabase } from '../db/schema.js';
import type { KeyService } from '../keys/key-service.js';
import { accessTokenId } from './token-id.js';

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
  /** RFC 8705 §3.1: `x5t#S256` of the client certificate the token is bound to (default none). */
  readonly x5tS256?: string | null;
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

/** A row of `access_tokens`, every column given. */
type AccessTokenRow = AccessTokenTable;

/** Every column of `access_tokens`, each written (test/db/written-columns.test.ts checks the list). */
export const ACCESS_TOKEN_COLUMNS = [
  'jti',
  'format',
  'token_hash',
  'grant_id',
  'client_id',
  'sub',
  'scope',
  'audience',
  'dpop_jkt',
  'kid',
  'parent_jti',
  'created_at',
  'expires_at',
  'revoked_at',
  'x5t_s256',
] as const satisfies readonly (keyof AccessTokenTable)[];

/** The multi-row INSERT of a batch, compiled once per batch size. */
const insertAccessTokens = precompiledInsert<AuthDatabase, AccessTokenRow>(
  'access_tokens',
  ACCESS_TOKEN_COLUMNS,
);

const writers = new WeakMap<Kysely<AuthDatabase>, BatchWriter<AccessTokenRow>>();

/**
 * One group-commit writer per database: the rows of concurrent issuances go in one multi-row
 * INSERT (one statement, so all or none), which costs one commit instead of one per token.
 */
function accessTokenWriter(db: Kysely<AuthDatabase>): BatchWriter<AccessTokenRow> {
  let writer = writers.get(db);
  if (writer === undefined) {
    writer = createBatchWriter<AccessTokenRow>({ write: (rows) => insertAccessTokens(db, rows) });
    writers.set(db, writer);
  }
  return writer;
}

/**
 * Records an issued token durably; resolves only once its row is committed, so a token is never
 * handed out unrecorded (it could not be introspected or revoked). A failed write answers 503
 * and the token, never sent, is not issued.
 */
async function recordAccessToken(db: Kysely<AuthDatabase>, row: AccessTokenRow): Promise<void> {
  try {
    // Inside a caller's transaction the row belongs to that transaction, not to a shared batch.
    if (db.isTransaction) await db.insertInto('access_tokens').values(row).execute();
    else await accessTokenWriter(db).add(row);
  } catch (cause) {
    throw new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'access token not recorded', cause });
  }
}

/** The roles of a user subject (none for an unknown subject, e.g. a deleted user). */
async function rolesOf(db: AuthServerDeps['db'], sub: string): Promise<readonly string[]> {
  const row = await db.selectFrom('users').select('roles').where('sub', '=', sub).executeTakeFirst();
  return row === undefined ? [] : (JSON.parse(row.roles) as string[]);
}

/**
 * Issues an access token in the client's format and records it: opaque tokens (256-bit random,
 * stored as SHA-256, looked up at introspection) or RFC 9068 JWTs with only `iss`, `sub`, `aud`,
 * `exp`, `iat`, `jti`, `client_id`, `scope` (a user's `roles`, RFC 9068 §7.2.1.1, only for resources
 * with `includeRoles`), `cnf.jkt` when DPoP-bound and `cnf.x5t#S256` when certificate-bound
 * (RFC 8705 §3.1): small, no personal data.
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
  const jti = accessTokenId(now);
  const x5tS256 = request.x5tS256 ?? null;
  // RFC 7800 §3.1: one confirmation object; a token may be bound to a DPoP key and a certificate.
  const cnf = {
    ...(request.dpopJkt === null ? {} : { jkt: request.dpopJkt }),
    ...(x5tS256 === null ? {} : { 'x5t#S256': x5tS256 }),
  };
  let token: string;
  let kid: string | null = null;
  if (format === 'jwt') {
    // Only for resources that ask for them: tokens carry nothing else about the user by default.
    const withRoles =
      request.sub !== client.clientId &&
      deps.config.resources.some((resource) => resource.id === audience && resource.includeRoles);
    const roles = withRoles ? await rolesOf(deps.db, request.sub) : [];
    const claims: Record<string, unknown> = {
      iss: deps.config.issuer,
      sub: request.sub,
      aud: audience,
      exp,
      iat,
      jti,
      client_id: client.clientId,
      ...(scope === '' ? {} : { scope }),
      // RFC 9068 §7.2.1.1: roles of the user, for services' coarse role checks (no other user data).
      ...(roles.length === 0 ? {} : { roles }),
      ...(Object.keys(cnf).length === 0 ? {} : { cnf }),
    };
    const signed = await keys.sign(claims, 'at+jwt');
    token = signed.jwt;
    kid = signed.kid;
  } else {
    token = randomToken();
  }
  await recordAccessToken(deps.db, {
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
    x5t_s256: x5tS256,
  });
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

import {
  hashToken,
  openSecret,
  precompiledInsert,
  precompiledQuery,
  randomToken,
  sealSecret,
} from '@gatehouse/core';
import type { Kysely, Selectable } from 'kysely';
import type { AuthServerDeps } from '../context.js';
import type { AuthDatabase, GrantTable, RefreshTokenTable } from '../db/schema.js';

export type RefreshTokenRow = Selectable<RefreshTokenTable>;
export type GrantRow = Selectable<GrantTable>;

type Deps = Pick<AuthServerDeps, 'db' | 'now' | 'state' | 'kek' | 'config'>;

export interface NewRefreshToken {
  readonly token: string;
  readonly row: RefreshTokenRow;
}

/**
 * A new refresh token of a grant (256 random bits, stored as SHA-256). Its idle expiry never
 * passes the grant's absolute expiry. Not yet stored: see `storeRefreshToken` / `rotateRefreshToken`.
 */
export function newRefreshToken(
  deps: Pick<AuthServerDeps, 'now'>,
  grant: Pick<GrantRow, 'grant_id' | 'client_id' | 'scope' | 'expires_at'>,
  idleSec: number,
): NewRefreshToken {
  const token = randomToken();
  const now = deps.now();
  return {
    token,
    row: {
      token_hash: hashToken(token),
      grant_id: grant.grant_id,
      client_id: grant.client_id,
      // RFC 6749 §6: a rotated refresh token keeps the scope of the one it replaces.
      scope: grant.scope,
      created_at: now,
      idle_expires_at: Math.min(now + idleSec * 1000, grant.expires_at),
      rotated_at: null,
      replaced_by: null,
      revoked_at: null,
    },
  };
}

/** Every column of `refresh_tokens`, each written (test/db/written-columns.test.ts checks the list). */
export const REFRESH_TOKEN_COLUMNS = [
  'token_hash',
  'grant_id',
  'client_id',
  'scope',
  'created_at',
  'idle_expires_at',
  'rotated_at',
  'replaced_by',
  'revoked_at',
] as const satisfies readonly (keyof RefreshTokenTable)[];

/** Every column of `grants`, each written (test/db/written-columns.test.ts checks the list). */
export const GRANT_COLUMNS = [
  'grant_id',
  'client_id',
  'sub',
  'scope',
  'resource',
  'sid',
  'auth_time',
  'dpop_jkt',
  'created_at',
  'expires_at',
  'revoked_at',
  'revoked_reason',
  'x5t_s256',
] as const satisfies readonly (keyof GrantTable)[];

// Built once, not on every call: both run on every code exchange, in its transaction.
const insertRefreshToken = precompiledInsert<AuthDatabase, RefreshTokenRow>(
  'refresh_tokens',
  REFRESH_TOKEN_COLUMNS,
);
const insertGrantOnce = precompiledQuery(GRANT_COLUMNS, (db: Kysely<AuthDatabase>, grant: GrantRow) =>
  db
    .insertInto('grants')
    .values(grant)
    .onConflict((oc) => oc.column('grant_id').doNothing()),
);

export async function storeRefreshToken(deps: Pick<Deps, 'db'>, fresh: NewRefreshToken): Promise<void> {
  await insertRefreshToken(deps.db, [fresh.row]);
}

export async function findRefreshToken(
  deps: Pick<Deps, 'db'>,
  tokenHash: string,
): Promise<RefreshTokenRow | undefined> {
  return deps.db
    .selectFrom('refresh_tokens')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .executeTakeFirst();
}

export async function findGrant(deps: Pick<Deps, 'db'>, grantId: string): Promise<GrantRow | undefined> {
  return deps.db.selectFrom('grants').selectAll().where('grant_id', '=', grantId).executeTakeFirst();
}

const graceKey = (oldHash: string, newHash: string): string => `refresh-grace:${oldHash}:${newHash}`;
const graceAad = (oldHash: string): string => `gatehouse:refresh-grace:${oldHash}`;

/**
 * Rotates `old` to `successor` (RFC 9700 §4.14.2): one transaction whose compare-and-set on
 * `rotated_at` lets exactly one of any number of concurrent requests win; the successor is stored
 * only by the winner. For the grace window, the successor is first kept, sealed with the
 * key-encryption key (AES-256-GCM) and only for `refreshGraceSec`, in shared state under the
 * old and new hashes, so a concurrent loser can answer with the same successor instead of
 * starting a second live lineage (which would weaken reuse detection).
 */
export async function rotateRefreshToken(
  deps: Deps,
  old: RefreshTokenRow,
  successor: NewRefreshToken,
): Promise<boolean> {
  const graceSec = deps.config.tokens.refreshGraceSec;
  const key = graceKey(old.token_hash, successor.row.token_hash);
  if (graceSec > 0) {
    const sealed = sealSecret(deps.kek, successor.token, graceAad(old.token_hash));
    await deps.state.set(key, sealed, graceSec * 1000 + 1000);
  }
  const won = await deps.db.transaction().execute(async (trx) => {
    const result = await trx
      .updateTable('refresh_tokens')
      .set({ rotated_at: deps.now(), replaced_by: successor.row.token_hash })
      .where('token_hash', '=', old.token_hash)
      .where('rotated_at', 'is', null)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return false;
    await trx.insertInto('refresh_tokens').values(successor.row).execute();
    return true;
  });
  if (!won && graceSec > 0) await deps.state.delete(key);
  return won;
}

/**
 * The successor a token was rotated to, for a repeated presentation within the grace window;
 * undefined when it is not available (expired from shared state, or never stored).
 */
export async function graceSuccessor(deps: Deps, old: RefreshTokenRow): Promise<string | undefined> {
  if (old.replaced_by === null) return undefined;
  const sealed = await deps.state.get(graceKey(old.token_hash, old.replaced_by));
  if (sealed === undefined) return undefined;
  const token = openSecret(deps.kek, sealed, graceAad(old.token_hash)).toString('utf8');
  return hashToken(token) === old.replaced_by ? token : undefined;
}

/** Records a grant (token family); a no-op when it exists (a concurrent redemption made it first). */
export async function ensureGrant(deps: Pick<Deps, 'db'>, grant: GrantRow): Promise<void> {
  await insertGrantOnce(deps.db, grant);
}

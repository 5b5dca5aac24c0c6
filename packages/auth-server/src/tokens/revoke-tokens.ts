import { precompiledQuery } from '@gatehouse/core';
import type { Kysely } from 'kysely';
import type { AuthServerDeps } from '../context.js';
import type { AuthDatabase } from '../db/schema.js';
import { revokeAndAnnounce, type Announce } from './revocation-events.js';

type Deps = Pick<AuthServerDeps, 'db' | 'now' | 'state' | 'logger'>;

/** Most levels of token exchange followed when revoking (an exchanged token is never exchanged again). */
const MAX_EXCHANGE_DEPTH = 4;

type Revoked = readonly { jti: string; expires_at: number }[];

/**
 * Guard verifiers and gateways evict by jti until `exp` (epoch seconds); opaque tokens too, since
 * introspection answers carry their jti and gateways cache those answers.
 */
function announceAll(announce: Announce, revoked: Revoked): void {
  for (const row of revoked) announce({ jti: row.jti, exp: Math.ceil(row.expires_at / 1000) });
}

/** Revokes the tokens exchanged (RFC 8693) from `parents`, level by level; returns them. */
async function revokeChildren(
  db: Kysely<AuthDatabase>,
  parents: readonly string[],
  at: number,
): Promise<{ jti: string; expires_at: number }[]> {
  const revoked: { jti: string; expires_at: number }[] = [];
  let frontier = parents;
  for (let depth = 0; depth < MAX_EXCHANGE_DEPTH && frontier.length > 0; depth++) {
    const rows = await db
      .updateTable('access_tokens')
      .set({ revoked_at: at })
      .where('parent_jti', 'in', frontier)
      .where('revoked_at', 'is', null)
      .returning(['jti', 'expires_at'])
      .execute();
    revoked.push(...rows);
    frontier = rows.map((row) => row.jti);
  }
  return revoked;
}

/**
 * Revokes one access token and every token exchanged from it (RFC 7009 §2.1, RFC 8693), with
 * their revocation events, in one transaction. The row stays until its `exp` (revoked JWT jtis are
 * kept so introspection keeps refusing them).
 */
export async function revokeAccessToken(deps: Deps, jti: string): Promise<number> {
  const at = deps.now();
  return revokeAndAnnounce(deps, async (db, announce) => {
    const own = await db
      .updateTable('access_tokens')
      .set({ revoked_at: at })
      .where('jti', '=', jti)
      .where('revoked_at', 'is', null)
      .returning(['jti', 'expires_at'])
      .execute();
    const revoked = [...own, ...(await revokeChildren(db, [jti], at))];
    announceAll(announce, revoked);
    return revoked.length;
  });
}

/**
 * Revokes a whole grant (token family): the grant, every refresh token and every access token
 * issued from it, and those exchanged from them (RFC 6749 §4.1.2 code replay, RFC 9700 §4.14.2
 * refresh reuse, RFC 7009 §2.1 refresh revocation), with their revocation events, in one
 * transaction. The grant row is marked first: an issuance racing with this checks the grant after
 * recording its tokens (see `afterIssue`), so none escapes.
 */
export async function revokeGrant(deps: Deps, grantId: string, reason: string): Promise<number> {
  const at = deps.now();
  return revokeAndAnnounce(deps, (db, announce) => revokeGrantWithin(db, announce, grantId, reason, at));
}

/**
 * `revokeGrant` inside a caller's revocation (see `revokeAndAnnounce`): every statement runs on
 * `db`, the caller's transaction, and the events go to the caller's `announce`.
 */
export async function revokeGrantWithin(
  db: Kysely<AuthDatabase>,
  announce: Announce,
  grantId: string,
  reason: string,
  at: number,
): Promise<number> {
  await db
    .updateTable('grants')
    .set({ revoked_at: at, revoked_reason: reason })
    .where('grant_id', '=', grantId)
    .where('revoked_at', 'is', null)
    .execute();
  return revokeGrantTokens(db, announce, grantId, at);
}

async function revokeGrantTokens(
  db: Kysely<AuthDatabase>,
  announce: Announce,
  grantId: string,
  at: number,
): Promise<number> {
  await db
    .updateTable('refresh_tokens')
    .set({ revoked_at: at })
    .where('grant_id', '=', grantId)
    .where('revoked_at', 'is', null)
    .execute();
  const own = await db
    .updateTable('access_tokens')
    .set({ revoked_at: at })
    .where('grant_id', '=', grantId)
    .where('revoked_at', 'is', null)
    .returning(['jti', 'expires_at'])
    .execute();
  const children =
    own.length === 0
      ? []
      : await revokeChildren(
          db,
          own.map((row) => row.jti),
          at,
        );
  const revoked = [...own, ...children];
  announceAll(announce, revoked);
  return revoked.length;
}

/** Whether a grant is revoked (built once: every code exchange and refresh asks). */
const grantRevokedAt = precompiledQuery(
  ['grantId'],
  (db: Kysely<AuthDatabase>, { grantId }: { grantId: string }) =>
    db.selectFrom('grants').select('revoked_at').where('grant_id', '=', grantId),
);

/**
 * Called after tokens of a grant were recorded: when the grant was revoked meanwhile (a replay
 * or reuse detected by a concurrent request), the new tokens are revoked too. Returns whether
 * the grant is revoked.
 */
export async function afterIssue(deps: Deps, grantId: string): Promise<boolean> {
  const [grant] = await grantRevokedAt(deps.db, { grantId });
  if (grant?.revoked_at == null) return false;
  const at = deps.now();
  await revokeAndAnnounce(deps, (db, announce) => revokeGrantTokens(db, announce, grantId, at));
  return true;
}

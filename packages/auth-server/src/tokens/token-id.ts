import { randomFillSync } from 'node:crypto';

/** Random bytes drawn from the CSPRNG at once for the next ids (as node's own randomUUID does). */
const POOL_BYTES = 4096;
const RANDOM_BYTES = 10;
let pool = Buffer.alloc(0);
let used = 0;

/**
 * The `jti` of an access token (RFC 7519 §4.1.7): the issuance time in milliseconds (12 hex
 * digits, so ids sort by time) then 80 random bits (base64url). Unique (80 random bits within one
 * millisecond) and unguessable; the time it shows is the token's `iat` already. Time-ordered
 * because it is the primary key of `access_tokens`: new rows land at the end of its index, where
 * a random key would dirty a different B-tree page for every token recorded.
 *
 * A jti identifies a token, it is not a secret (it is in the signed token and in introspection
 * answers), so its random part may come from a pool filled ahead of time: one CSPRNG call per
 * 409 ids instead of one per token. Secrets (opaque tokens, codes) are never drawn from it.
 */
export function accessTokenId(now: number): string {
  if (used + RANDOM_BYTES > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_BYTES));
    used = 0;
  }
  const random = pool.toString('base64url', used, used + RANDOM_BYTES);
  used += RANDOM_BYTES;
  return `${Math.max(0, Math.floor(now)).toString(16).padStart(12, '0')}${random}`;
}

import { hashToken, precompiledQuery, randomToken } from '@gatehouse/core';
import type { Kysely, Selectable } from 'kysely';
import type { Client } from '../clients/client.js';
import type { AuthServerDeps } from '../context.js';
import type { AuthDatabase, AuthorizationCodeTable } from '../db/schema.js';

export type AuthorizationCodeRow = Selectable<AuthorizationCodeTable>;

/** What the authorization endpoint decided, stored under the code until it is redeemed. */
export interface AuthorizationCodeInput {
  readonly client: Client;
  /** The authenticated user. */
  readonly sub: string;
  /** Exactly as sent in the authorization request (RFC 6749 §4.1.3: compared byte for byte). */
  readonly redirectUri: string;
  readonly scopes: readonly string[];
  /** RFC 8707 resource the user authorized (one audience), or null. */
  readonly resource: string | null;
  /** RFC 7636 §4.2 S256 code_challenge (base64url SHA-256 of the verifier). */
  readonly codeChallenge: string;
  readonly nonce: string | null;
  /** Login session the code was issued in (ID token `sid`, back-channel logout). */
  readonly sid: string;
  /** Epoch ms of the user's authentication. */
  readonly authTime: number;
  /** RFC 9449 §10: `dpop_jkt` of the authorization request; the token request must prove this key. */
  readonly dpopJkt: string | null;
}

/**
 * Creates an authorization code (RFC 6749 §4.1.2): 256 random bits, stored only as its SHA-256,
 * valid `tokens.codeTtlSec` (RFC 6749 §4.1.2 recommends at most 10 minutes), redeemable once. The
 * `grant_id` names the token family the code will start, so a replayed code can revoke it
 * (RFC 6749 §4.1.2, RFC 9700 §4.5). Returns the code to put in the redirect.
 */
export async function createAuthorizationCode(
  deps: Pick<AuthServerDeps, 'config' | 'db' | 'now'>,
  input: AuthorizationCodeInput,
): Promise<string> {
  const code = randomToken();
  const now = deps.now();
  await deps.db
    .insertInto('authorization_codes')
    .values({
      code_hash: hashToken(code),
      client_id: input.client.clientId,
      sub: input.sub,
      redirect_uri: input.redirectUri,
      scope: input.scopes.join(' '),
      resource: input.resource,
      code_challenge: input.codeChallenge,
      nonce: input.nonce,
      sid: input.sid,
      auth_time: input.authTime,
      dpop_jkt: input.dpopJkt,
      grant_id: randomToken(16),
      created_at: now,
      expires_at: now + deps.config.tokens.codeTtlSec * 1000,
      consumed_at: null,
    })
    .execute();
  return code;
}

// The statements of every code exchange, built once (kysely would build them on every call).
const codeByHash = precompiledQuery(
  ['codeHash'],
  (db: Kysely<AuthDatabase>, { codeHash }: { codeHash: string }) =>
    db.selectFrom('authorization_codes').selectAll().where('code_hash', '=', codeHash),
);
const consumeCode = precompiledQuery(
  ['codeHash', 'now'],
  (db: Kysely<AuthDatabase>, { codeHash, now }: { codeHash: string; now: number }) =>
    db
      .updateTable('authorization_codes')
      .set({ consumed_at: now })
      .where('code_hash', '=', codeHash)
      .where('consumed_at', 'is', null)
      .returning('code_hash'),
);

export async function findAuthorizationCode(
  deps: Pick<AuthServerDeps, 'db'>,
  code: string,
): Promise<AuthorizationCodeRow | undefined> {
  const [row] = await codeByHash(deps.db, { codeHash: hashToken(code) });
  return row;
}

/**
 * Marks a code used: a compare-and-set on `consumed_at`, so of any number of concurrent
 * redemptions exactly one wins (RFC 6749 §4.1.2: a code is used once).
 */
export async function consumeAuthorizationCode(
  deps: Pick<AuthServerDeps, 'db' | 'now'>,
  codeHash: string,
): Promise<boolean> {
  const updated = await consumeCode(deps.db, { codeHash, now: deps.now() });
  return updated.length === 1;
}

import { randomUUID } from 'node:crypto';
import { GatehouseError, dummyPasswordHash, hashPassword, verifyPassword } from '@gatehouse/core';
import type { Selectable } from 'kysely';
import type { AuthServerDeps } from '../context.js';
import type { UserTable } from '../db/schema.js';
import { revokeAndAnnounce } from '../tokens/revocation-events.js';
import { revokeGrantWithin } from '../tokens/revoke-tokens.js';

/** A local user as callers see it: never the password hash. */
export interface User {
  /** Stable subject identifier (a random UUID): what tokens name, never the username. */
  readonly sub: string;
  /** Lower case; unique regardless of case. */
  readonly username: string;
  readonly roles: readonly string[];
  readonly name: string | null;
  readonly email: string | null;
  readonly createdAt: number;
}

export interface CreateUserInput {
  readonly username: string;
  readonly password: string;
  readonly roles?: readonly string[];
  readonly name?: string | null;
  readonly email?: string | null;
}

export interface UserStore {
  /** Hashes the password (scrypt, OWASP parameters) and stores the user; usernames are unique case-insensitively. */
  create(input: CreateUserInput): Promise<User>;
  get(sub: string): Promise<User | undefined>;
  findByUsername(username: string): Promise<User | undefined>;
  list(): Promise<User[]>;
  /**
   * Deletes by username or sub; ends the user's sessions, forgets consents and revokes every
   * grant and token the user holds. True when a user was deleted.
   */
  delete(usernameOrSub: string): Promise<boolean>;
  /**
   * Checks a password. Unknown users are verified against a dummy hash of the same cost, so the
   * answer and its timing do not reveal whether the account exists.
   */
  verifyCredentials(username: string, password: string): Promise<User | undefined>;
}

/** Usernames: 1-64 characters, compared and stored in lower case after NFKC normalization. */
const USERNAME = /^[a-z0-9][a-z0-9._@+-]{0,63}$/;
const ROLE = /^[A-Za-z0-9._:-]{1,64}$/;
/** NIST SP 800-63B §5.1.1.2: at least 8 characters; a bound keeps hashing cost predictable. */
const MIN_PASSWORD = 8;
const MAX_PASSWORD = 1024;

/** The canonical (stored) form of a username: NFKC, lower case, surrounding blanks removed. */
export function normalizeUsername(username: string): string {
  return username.normalize('NFKC').trim().toLowerCase();
}

function userFromRow(row: Selectable<UserTable>): User {
  return {
    sub: row.sub,
    username: row.username,
    roles: JSON.parse(row.roles) as string[],
    name: row.name,
    email: row.email,
    createdAt: row.created_at,
  };
}

function validate(input: CreateUserInput, username: string): string[] {
  const problems: string[] = [];
  if (!USERNAME.test(username))
    problems.push('username: 1-64 characters of a-z 0-9 . _ @ + -, starting with a letter or digit');
  const length = Array.from(input.password).length;
  if (length < MIN_PASSWORD || length > MAX_PASSWORD)
    problems.push(`password: ${MIN_PASSWORD} to ${MAX_PASSWORD} characters`);
  for (const role of input.roles ?? []) {
    if (!ROLE.test(role)) problems.push(`role ${JSON.stringify(role)}: invalid`);
  }
  if (input.name != null && (input.name.length === 0 || input.name.length > 200))
    problems.push('name: 1 to 200 characters');
  if (input.email != null && !/^[^\s@]{1,64}@[^\s@]{1,255}$/.test(input.email))
    problems.push('email: not an address');
  return problems;
}

export function createUserStore(
  deps: Pick<AuthServerDeps, 'db' | 'now' | 'passwordLogN' | 'state' | 'logger'>,
): UserStore {
  const { db } = deps;
  const logN = deps.passwordLogN ?? 17;
  let dummy: Promise<string> | undefined;
  const dummyHash = (): Promise<string> => (dummy ??= dummyPasswordHash({ logN }));

  async function rowByUsername(username: string): Promise<Selectable<UserTable> | undefined> {
    return db
      .selectFrom('users')
      .selectAll()
      .where('username', '=', normalizeUsername(username))
      .executeTakeFirst();
  }

  return {
    async create(input) {
      const username = normalizeUsername(input.username);
      const problems = validate(input, username);
      if (problems.length > 0)
        throw new GatehouseError('ERR_CONFIG_INVALID', { detail: problems.join('; ') });
      if ((await rowByUsername(username)) !== undefined)
        throw new GatehouseError('ERR_CONFIG_INVALID', { detail: `user ${username} exists` });
      const row: UserTable = {
        sub: randomUUID(),
        username,
        password_hash: await hashPassword(input.password, { logN }),
        roles: JSON.stringify([...new Set(input.roles ?? [])]),
        name: input.name ?? null,
        email: input.email ?? null,
        created_at: deps.now(),
      };
      try {
        await db.insertInto('users').values(row).execute();
      } catch (err) {
        // The unique index decides a race between two creators of one username.
        if ((await rowByUsername(username)) !== undefined)
          throw new GatehouseError('ERR_CONFIG_INVALID', { detail: `user ${username} exists` });
        throw err;
      }
      return userFromRow(row);
    },

    async get(sub) {
      const row = await db.selectFrom('users').selectAll().where('sub', '=', sub).executeTakeFirst();
      return row === undefined ? undefined : userFromRow(row);
    },

    async findByUsername(username) {
      const row = await rowByUsername(username);
      return row === undefined ? undefined : userFromRow(row);
    },

    async list() {
      const rows = await db.selectFrom('users').selectAll().orderBy('username').execute();
      return rows.map(userFromRow);
    },

    async delete(usernameOrSub) {
      const row =
        (await rowByUsername(usernameOrSub)) ??
        (await db.selectFrom('users').selectAll().where('sub', '=', usernameOrSub).executeTakeFirst());
      if (row === undefined) return false;
      const now = deps.now();
      const { sub } = row;
      // One transaction: the user goes only together with every token family (jti events per
      // token) and a `{sub}` event for caches (gateways, verifiers): every token of the user issued
      // until now, so a crash halfway leaves no live token of a deleted user unannounced.
      await revokeAndAnnounce(deps, async (trx, announce) => {
        await trx.deleteFrom('users').where('sub', '=', sub).execute();
        await trx.deleteFrom('consents').where('sub', '=', sub).execute();
        // A code issued just before the deletion would otherwise still redeem to tokens for a
        // user who no longer exists (RFC 6749 §10.5): outstanding codes go with the user.
        await trx
          .deleteFrom('authorization_codes')
          .where('sub', '=', sub)
          .where('consumed_at', 'is', null)
          .execute();
        await trx
          .updateTable('sessions')
          .set({ ended_at: now })
          .where('sub', '=', sub)
          .where('ended_at', 'is', null)
          .execute();
        const grants = await trx
          .selectFrom('grants')
          .select('grant_id')
          .where('sub', '=', sub)
          .where('revoked_at', 'is', null)
          .execute();
        for (const { grant_id: grantId } of grants) {
          await revokeGrantWithin(trx, announce, grantId, 'user_deleted', now);
        }
        announce({ sub, issuedBefore: Math.ceil(now / 1000) });
      });
      return true;
    },

    async verifyCredentials(username, password) {
      const canonical = normalizeUsername(username);
      const row = USERNAME.test(canonical) ? await rowByUsername(canonical) : undefined;
      // Bounded input; an over-long password still costs a full verification.
      const candidate = password.length > MAX_PASSWORD * 4 ? '' : password;
      const ok = await verifyPassword(candidate, row?.password_hash ?? (await dummyHash()));
      return ok && row !== undefined && candidate !== '' ? userFromRow(row) : undefined;
    },
  };
}

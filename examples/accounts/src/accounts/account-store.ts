import { randomBytes } from 'node:crypto';
import type { SqlWhere } from '@gatehouse/guard';
import type { Kysely, Selectable } from 'kysely';
import { toKyselyWhere } from '@gatehouse/example-service-kit';
import type { AccountTable, AccountsDatabase } from '../db/schema.js';

/** An account as the API shows it (the OpenAPI `Account` schema). */
export interface Account {
  readonly id: string;
  readonly owner: string;
  readonly balance: number;
  readonly nickname: string;
}

export const ACCOUNT_ID = /^acc_[A-Za-z0-9]{1,32}$/;

const toAccount = (row: Selectable<AccountTable>): Account => ({
  id: row.id,
  owner: row.owner_id,
  balance: row.balance,
  nickname: row.nickname,
});

/** Account rows: reads are by id or by a policy filter, never by client-supplied owner. */
export interface AccountStore {
  create(ownerId: string, nickname: string): Promise<Account>;
  find(id: string): Promise<Account | undefined>;
  /** Accounts the filter allows, by id, after `cursor` (the last id of the previous page). */
  list(
    where: SqlWhere,
    page: { readonly limit: number; readonly cursor?: string | undefined },
  ): Promise<Account[]>;
  rename(id: string, nickname: string): Promise<Account | undefined>;
}

export function createAccountStore(db: Kysely<AccountsDatabase>, now: () => number): AccountStore {
  return {
    async create(ownerId, nickname) {
      const row = {
        id: `acc_${randomBytes(12).toString('hex')}`,
        owner_id: ownerId,
        nickname,
        balance: 0,
        created_at: now(),
      };
      await db.insertInto('accounts').values(row).execute();
      return toAccount(row);
    },

    async find(id) {
      if (!ACCOUNT_ID.test(id)) return undefined;
      const row = await db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : toAccount(row);
    },

    async list(where, page) {
      let query = db.selectFrom('accounts').selectAll().where(toKyselyWhere(where));
      if (page.cursor !== undefined) query = query.where('id', '>', page.cursor);
      const rows = await query.orderBy('id').limit(page.limit).execute();
      return rows.map(toAccount);
    },

    async rename(id, nickname) {
      const row = await db
        .updateTable('accounts')
        .set({ nickname })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      return row === undefined ? undefined : toAccount(row);
    },
  };
}

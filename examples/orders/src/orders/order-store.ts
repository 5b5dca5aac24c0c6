import { randomBytes } from 'node:crypto';
import type { SqlWhere } from '@gatehouse/guard';
import type { Kysely, Selectable } from 'kysely';
import { toKyselyWhere } from '@gatehouse/example-service-kit';
import type { OrderStatus, OrderTable, OrdersDatabase } from '../db/schema.js';

/** An order as the API shows it (the OpenAPI `Order` schema). */
export interface Order {
  readonly id: string;
  readonly owner: string;
  readonly accountId: string;
  readonly amount: number;
  readonly status: OrderStatus;
}

export const ORDER_ID = /^ord_[A-Za-z0-9]{1,32}$/;

const toOrder = (row: Selectable<OrderTable>): Order => ({
  id: row.id,
  owner: row.owner_id,
  accountId: row.account_id,
  amount: row.amount,
  status: row.status,
});

export interface OrderPage {
  readonly limit: number;
  /** The last id of the previous page. */
  readonly cursor?: string | undefined;
  readonly status?: readonly OrderStatus[] | undefined;
}

/** Order rows: reads are by id or by a policy filter, never by client-supplied owner. */
export interface OrderStore {
  create(input: { ownerId: string; accountId: string; amount: number }): Promise<Order>;
  find(id: string): Promise<Order | undefined>;
  list(where: SqlWhere, page: OrderPage): Promise<Order[]>;
}

export function createOrderStore(db: Kysely<OrdersDatabase>, now: () => number): OrderStore {
  return {
    async create({ ownerId, accountId, amount }) {
      const row: OrderTable = {
        id: `ord_${randomBytes(12).toString('hex')}`,
        owner_id: ownerId,
        account_id: accountId,
        amount,
        status: 'open',
        created_at: now(),
      };
      await db.insertInto('orders').values(row).execute();
      return toOrder(row);
    },

    async find(id) {
      if (!ORDER_ID.test(id)) return undefined;
      const row = await db.selectFrom('orders').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : toOrder(row);
    },

    async list(where, page) {
      let query = db.selectFrom('orders').selectAll().where(toKyselyWhere(where));
      if (page.cursor !== undefined) query = query.where('id', '>', page.cursor);
      if (page.status !== undefined) query = query.where('status', 'in', page.status);
      const rows = await query.orderBy('id').limit(page.limit).execute();
      return rows.map(toOrder);
    },
  };
}

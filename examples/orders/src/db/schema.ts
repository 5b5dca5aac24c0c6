/** The orders service's tables (core's conventions: times in epoch milliseconds). */
export interface OrdersDatabase {
  orders: OrderTable;
}

export type OrderStatus = 'open' | 'paid' | 'shipped' | 'cancelled';

export interface OrderTable {
  /** `ord_` + 24 hex characters. */
  id: string;
  /** `sub` of the user who placed it. */
  owner_id: string;
  /** The account it is charged to (an accounts-service id; see README on what is not checked). */
  account_id: string;
  /** Minor currency units. */
  amount: number;
  status: OrderStatus;
  created_at: number;
}

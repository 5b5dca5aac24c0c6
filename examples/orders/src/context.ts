import type { Policy } from '@gatehouse/guard';
import type { OrderStore } from './orders/order-store.js';

/** What the actions of the orders service share. */
export interface OrdersContext {
  readonly orders: OrderStore;
  readonly policy: Policy;
}

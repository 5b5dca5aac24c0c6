import { startServiceHarness, type ServiceHarness } from '@gatehouse/example-service-kit/testing';
import { createOrdersService } from '../../src/index.js';

export const AUDIENCE = 'https://orders.internal';

export type OrdersHarness = ServiceHarness;

/** The orders service on port 0, an in-memory database, a static JWKS and the frozen clock. */
export const startOrders = (): Promise<OrdersHarness> =>
  startServiceHarness({ component: 'orders', audience: AUDIENCE, create: createOrdersService });

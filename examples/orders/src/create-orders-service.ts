import {
  createResourceService,
  registerGuarded,
  type ResourceService,
  type ResourceServiceOptions,
} from '@gatehouse/example-service-kit';
import { createOrder } from './actions/create-order.js';
import { getOrder } from './actions/get-order.js';
import { listOrders } from './actions/list-orders.js';
import { createAuditSink } from './audit/create-audit-sink.js';
import { createOrdersPolicy } from './auth/orders-policy.js';
import type { OrdersContext } from './context.js';
import { migrations } from './db/migrations.js';
import type { OrdersDatabase } from './db/schema.js';
import { createOrderStore } from './orders/order-store.js';

export const COMPONENT = 'orders';
export const DEFAULT_AUDIENCE = 'https://orders.internal';

/** The kit's options; `audience` defaults to `https://orders.internal`. */
export type OrdersServiceOptions = ResourceServiceOptions;
export type OrdersService = ResourceService;

/** The demo orders service (see README): the kit's mTLS shell with the orders routes. */
export function createOrdersService(options: OrdersServiceOptions): OrdersService {
  return createResourceService<OrdersDatabase>(
    {
      component: COMPONENT,
      defaultAudience: DEFAULT_AUDIENCE,
      migrations,
      setup({ db, logger, now, forward }) {
        const audit = createAuditSink(logger, forward);
        const context: OrdersContext = {
          orders: createOrderStore(db, now),
          policy: createOrdersPolicy(audit, now, COMPONENT),
        };
        return {
          audit,
          register(app, guard) {
            registerGuarded(app, guard, ['orders:read'], (routes) => {
              routes.get('/api/orders', listOrders(context));
              routes.get('/api/orders/:id', getOrder(context));
            });
            registerGuarded(app, guard, ['orders:write'], (routes) => {
              routes.post('/api/orders', createOrder(context));
            });
          },
        };
      },
    },
    options,
  );
}

export {
  createOrdersService,
  DEFAULT_AUDIENCE,
  type OrdersService,
  type OrdersServiceOptions,
} from './create-orders-service.js';
export type { ServiceTls } from '@gatehouse/example-service-kit';
export type { Order } from './orders/order-store.js';

import type { FastifyRequest } from 'fastify';
import { idOf, notFound, principalOf, toPolicyPrincipal } from '@gatehouse/example-service-kit';
import { ORDER } from '../auth/orders-policy.js';
import type { OrdersContext } from '../context.js';
import type { Order } from '../orders/order-store.js';

/**
 * `GET /api/orders/{id}` (orders:read): another user's order is a 404 exactly like a missing one
 * (OWASP API1: no existence leak).
 */
export const getOrder =
  (context: OrdersContext) =>
  async (request: FastifyRequest): Promise<Order> => {
    const order = await context.orders.find(idOf(request));
    if (order === undefined) throw notFound();
    const decision = context.policy.authorize(toPolicyPrincipal(principalOf(request)), 'read', {
      type: ORDER,
      id: order.id,
      ownerId: order.owner,
    });
    if (!decision.allow) throw notFound();
    return order;
  };

import { toSqlWhere } from '@gatehouse/guard';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseInput, principalOf, toPolicyPrincipal } from '@gatehouse/example-service-kit';
import { ORDER } from '../auth/orders-policy.js';
import type { OrdersContext } from '../context.js';
import { orderListQuery } from '../orders/order-input.js';
import type { Order } from '../orders/order-store.js';

/**
 * `GET /api/orders` (orders:read): the policy's read rule becomes the query's WHERE, so a user sees
 * their own orders, the admin role all, and a client-credentials token none.
 */
export const listOrders =
  (context: OrdersContext) =>
  async (request: FastifyRequest, reply: FastifyReply): Promise<Order[]> => {
    const page = parseInput(orderListQuery, request.query, 'query');
    const filter = context.policy.filter(toPolicyPrincipal(principalOf(request)), 'read', ORDER);
    const orders = await context.orders.list(toSqlWhere(filter, { ownerId: 'owner_id' }), page);
    const last = orders.at(-1);
    if (orders.length === page.limit && last !== undefined) {
      // RFC 8288: the next page, relative so it holds through the gateway.
      const next = new URLSearchParams({ limit: String(page.limit), cursor: last.id });
      for (const status of page.status ?? []) next.append('status', status);
      void reply.header('link', `</api/orders?${next.toString()}>; rel="next"`);
    }
    return orders;
  };

import { GatehouseError } from '@gatehouse/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseInput, principalOf, toPolicyPrincipal } from '@gatehouse/example-service-kit';
import { ORDER } from '../auth/orders-policy.js';
import type { OrdersContext } from '../context.js';
import { orderCreate } from '../orders/order-input.js';
import type { Order } from '../orders/order-store.js';

/**
 * `POST /api/orders` (orders:write): the owner is the token's user and the status starts `open`;
 * a client-credentials token (no user) may not place one.
 */
export const createOrder =
  (context: OrdersContext) =>
  async (request: FastifyRequest, reply: FastifyReply): Promise<Order> => {
    const principal = principalOf(request);
    const decision = context.policy.authorize(toPolicyPrincipal(principal), 'create', {
      type: ORDER,
      ownerId: principal.sub,
    });
    if (!decision.allow) throw new GatehouseError('ERR_AUTHZ_DENIED', { detail: decision.reason });
    const input = parseInput(orderCreate, request.body, 'body');
    const order = await context.orders.create({ ownerId: principal.sub, ...input });
    void reply.code(201).header('location', `/api/orders/${order.id}`);
    return order;
  };

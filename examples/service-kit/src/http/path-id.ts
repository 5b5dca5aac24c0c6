import type { FastifyRequest } from 'fastify';

/** The `:id` path parameter of an object route. */
export const idOf = (request: FastifyRequest): string => (request.params as { id: string }).id;

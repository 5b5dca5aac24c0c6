import { z } from 'zod';

export const ORDER_STATUSES = ['open', 'paid', 'shipped', 'cancelled'] as const;

/**
 * POST body (OpenAPI `OrderCreate`): the owner is the caller and the status starts `open`; `id`,
 * `owner` and `status` are refused by name (OWASP API3 mass assignment).
 */
export const orderCreate = z.strictObject({
  accountId: z.string().regex(/^acc_[A-Za-z0-9]{1,32}$/),
  amount: z.int().min(1).max(1_000_000),
});

const one = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** `limit`, `cursor` and repeated `status` of `GET /api/orders`. */
export const orderListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(100),
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .optional(),
  status: z
    .union([z.enum(ORDER_STATUSES), z.array(z.enum(ORDER_STATUSES))])
    .transform(one)
    .optional(),
});

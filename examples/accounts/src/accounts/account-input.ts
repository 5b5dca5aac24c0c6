import { z } from 'zod';

/** OpenAPI `Nickname`. */
const nickname = z.string().min(1).max(64);

/** POST body (OpenAPI `AccountCreate`): the owner is the caller, never the body. */
export const accountCreate = z.strictObject({ nickname });

/**
 * PATCH body (RFC 7396 merge patch): only `nickname` is writable; `id`, `owner` and `balance`
 * (readOnly in the OpenAPI document) are refused by name.
 */
export const accountPatch = z.strictObject({ nickname: nickname.optional() });

/** `limit` and `cursor` of list endpoints (OpenAPI `Limit`, `Cursor`). */
export const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(100),
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .optional(),
});

import type { z } from 'zod';
import { invalidParams, type InvalidParam } from './problem-error.js';

/**
 * Validates a body or query against a strict schema. Unknown members are refused, never dropped:
 * a client sending `owner` or `balance` learns it is not writable (OWASP API3 mass assignment).
 */
export function parseInput<T>(schema: z.ZodType<T>, input: unknown, location: 'body' | 'query'): T {
  const result = schema.safeParse(input ?? (location === 'query' ? {} : undefined));
  if (result.success) return result.data;
  const params: InvalidParam[] = [];
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const reason = location === 'body' ? 'not writable' : 'unknown parameter';
      for (const key of issue.keys) params.push({ name: key, reason });
    } else {
      const name = issue.path.map(String).join('.');
      params.push({ name: name === '' ? location : name, reason: issue.message });
    }
  }
  throw invalidParams(params);
}

/**
 * Redaction of secrets from log records. A key is sensitive when it is `authorization`, `cookie` or
 * `set-cookie`, or when it contains `secret`, `password` or `token` (any casing), wherever it sits in
 * the record. Values under such keys are replaced, never partially shown.
 */

export const REDACTED = '[REDACTED]';

const SENSITIVE_KEY =
  /^(?:authorization|proxy-authorization|cookie|set-cookie)$|secret|password|passwd|token/i;
const MAX_DEPTH = 8;

export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(key);
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Returns a copy of `value` with sensitive members replaced; the input is never modified. */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[Truncated]';
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, depth + 1));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    out[key] = isSensitiveKey(key) ? REDACTED : redactSecrets(value[key], depth + 1);
  }
  return out;
}

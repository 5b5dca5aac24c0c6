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

function redactMembers(value: object, out: Record<string, unknown>, depth: number): Record<string, unknown> {
  const source = value as Record<string, unknown>;
  for (const key of Object.keys(source)) {
    out[key] = isSensitiveKey(key) ? REDACTED : redactSecrets(source[key], depth + 1);
  }
  return out;
}

/**
 * A copy of an error that pino's error serializer still recognises (same prototype, message and
 * stack), with its own members redacted: errors often carry request data (e.g. `config.headers`).
 */
function redactError(err: Error, depth: number): Error {
  const source = err as unknown as Record<string, unknown>;
  // A DOMException (AbortError, TimeoutError) keeps message, name and code as prototype getters
  // that throw on any other receiver: its copy is a plain Error carrying the values read here.
  const plain = !Object.hasOwn(err, 'message');
  const prototype = plain ? Error.prototype : (Object.getPrototypeOf(err) as object);
  const copy = Object.create(prototype) as Record<string, unknown>;
  // Non-enumerable like the originals, so the copy serializes exactly as the error would.
  for (const name of ['name', 'message', 'stack', 'cause', 'errors']) {
    const copied =
      name === 'message' || name === 'stack' || (name === 'name' && plain) || Object.hasOwn(err, name);
    if (!copied) continue;
    const member = source[name];
    Object.defineProperty(copy, name, {
      value: name === 'cause' || name === 'errors' ? redactSecrets(member, depth + 1) : member,
      writable: true,
      configurable: true,
    });
  }
  return redactMembers(err, copy, depth) as unknown as Error;
}

/** Returns a copy of `value` with sensitive members replaced; the input is never modified. */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[Truncated]';
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, depth + 1));
  if (value instanceof Error) return redactError(value, depth);
  // Objects with their own JSON form (Date, URL, Buffer) are logged as that form.
  if (!isPlainObject(value) && typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
  // Class instances are serialized through their own enumerable members, so those are redacted too.
  return redactMembers(value, {}, depth);
}

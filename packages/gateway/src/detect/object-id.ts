const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Opaque ids: hex, ULIDs, base64url ids — long enough, and with a digit, so `search` is not one. */
const OPAQUE = /^(?=[^/]*\d)[A-Za-z0-9_-]{8,64}$/;
/** Numbers above this lose precision as doubles; such ids are not walked one by one anyway. */
const MAX_NUMERIC_LENGTH = 15;

function isDigits(text: string, from = 0): boolean {
  if (text.length === from) return false;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Whether a path segment looks like an object id: a number, a UUID or a long opaque token. */
export function looksLikeId(segment: string): boolean {
  if (segment.length === 0 || segment.length > 64) return false;
  return isDigits(segment) || UUID.test(segment) || OPAQUE.test(segment);
}

/**
 * The object a request is about: the path-template parameters when an OpenAPI operation matched
 * (their values, in template order), else the last path segment when it looks like an id.
 * `undefined` when the request names no object (a collection, a search).
 */
export function extractObjectId(
  path: string,
  params: Readonly<Record<string, string>> | undefined,
): string | undefined {
  if (params !== undefined) {
    let id: string | undefined;
    for (const name in params) {
      const value = params[name] as string;
      id = id === undefined ? value : `${id}/${value}`;
    }
    if (id !== undefined) return id;
  }
  const slash = path.lastIndexOf('/');
  const segment = path.slice(slash + 1);
  return looksLikeId(segment) ? segment : undefined;
}

/** `text[from..]` as a number when it is 1–15 digits; no allocation. */
function parseDigits(text: string, from: number): number | undefined {
  const length = text.length - from;
  if (length === 0 || length > MAX_NUMERIC_LENGTH) return undefined;
  let n = 0;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
    n = n * 10 + (c - 48);
  }
  return n;
}

/**
 * The numeric id a request names, without building its object id: the last path-template
 * parameter when an operation matched, else the last path segment. The per-request path of the
 * sequential-walk check, so it allocates nothing.
 */
export function requestNumericId(
  path: string,
  params: Readonly<Record<string, string>> | undefined,
): number | undefined {
  if (params !== undefined) {
    let last: string | undefined;
    for (const name in params) last = params[name];
    if (last !== undefined) return parseDigits(last, 0);
  }
  return parseDigits(path, path.lastIndexOf('/') + 1);
}

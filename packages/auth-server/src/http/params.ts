import { GatehouseError } from '@gatehouse/core';

/** Request parameters after RFC 6749 §3.1 rules: each at most once; an empty value means absent. */
export type Params = Readonly<Record<string, string>>;

/**
 * Parses `application/x-www-form-urlencoded` text or a query string. RFC 6749 §3.1: "Request and
 * response parameters MUST NOT be included more than once" — a repeated name is refused (parameter
 * pollution), and "parameters sent without a value MUST be treated as if they were omitted".
 */
export function parseParams(text: string): Params {
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  const seen = new Set<string>();
  for (const [name, value] of new URLSearchParams(text)) {
    if (seen.has(name))
      throw new GatehouseError('ERR_OAUTH_INVALID_REQUEST', { detail: `repeated parameter ${name}` });
    seen.add(name);
    if (value !== '') params[name] = value;
  }
  return params;
}

/** The query part of a request target (`/authorize?a=b` → parameters). */
export function queryParams(url: string): Params {
  const index = url.indexOf('?');
  return parseParams(index === -1 ? '' : url.slice(index + 1));
}

/** A required parameter, or invalid_request naming it (in the log only). */
export function required(params: Params, name: string): string {
  const value = params[name];
  if (value === undefined)
    throw new GatehouseError('ERR_OAUTH_INVALID_REQUEST', { detail: `missing ${name}` });
  return value;
}

/** Space-delimited list (RFC 6749 §3.3 scope syntax), duplicates removed, order kept. */
export function splitScope(value: string | undefined): string[] {
  return value === undefined ? [] : [...new Set(value.split(' ').filter((s) => s !== ''))];
}

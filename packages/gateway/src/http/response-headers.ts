/** What the gateway changes in a route's responses. */
export interface ResponsePolicy {
  /** Lower-case names of internal headers never shown to clients (from the route config). */
  removeHeaders: ReadonlySet<string>;
  /** The `Strict-Transport-Security` value (RFC 6797), or undefined to pass the upstream's through. */
  hsts: string | undefined;
  /** The request carried a credential: the response must not be stored by shared caches. */
  authenticated: boolean;
}

const REMOVED = new Set([
  // RFC 9110 §7.6.1 hop-by-hop (Node frames the response itself); §11.7 proxy authentication is per hop.
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // Product and version banners tell an attacker what runs behind the gateway.
  'server',
  'x-powered-by',
]);

/** The names listed in `Connection` (RFC 9110 §7.6.1), lower-cased, or undefined when none. */
function readConnectionOptions(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  // The usual value names only Keep-Alive, which is always removed as hop-by-hop.
  if (typeof value === 'string' && value.toLowerCase() === 'keep-alive') return undefined;
  const options = new Set<string>();
  for (const line of Array.isArray(value) ? value : [value]) {
    for (const option of line.split(',')) options.add(option.trim().toLowerCase());
  }
  return options;
}

/** Internal URLs never leave the gateway: each value is rewritten, and dropped when it cannot be. */
function rewriteLocations(
  value: string | string[],
  rewriteLocation: (location: string) => string | undefined,
): string | string[] | undefined {
  if (!Array.isArray(value)) return rewriteLocation(value);
  const rewritten: string[] = [];
  for (const location of value) {
    const next = rewriteLocation(location);
    if (next !== undefined) rewritten.push(next);
  }
  if (rewritten.length === 0) return undefined;
  return rewritten.length === 1 ? rewritten[0] : rewritten;
}

/**
 * The headers sent to the client (lower-case names): the upstream's without hop-by-hop headers, those named in
 * `Connection`, banners and the route's internal headers; `Location`/`Content-Location` rewritten; plus
 * `X-Content-Type-Options: nosniff`, HSTS, and `Cache-Control: no-store` on authenticated responses
 * (RFC 9111 §5.2.2.5: a response to a credentialed request must not be replayed to someone else).
 */
export function buildClientResponseHeaders(
  upstream: Record<string, string | string[] | undefined>,
  policy: ResponsePolicy,
  rewriteLocation: (location: string) => string | undefined,
): Record<string, string | string[]> {
  const headers = Object.create(null) as Record<string, string | string[]>;
  const connectionOptions = readConnectionOptions(upstream.connection ?? upstream.Connection);
  for (const name of Object.keys(upstream)) {
    const value = upstream[name];
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (REMOVED.has(lower) || policy.removeHeaders.has(lower)) continue;
    // Content-Length frames the body the gateway relays: Connection cannot remove it.
    if (connectionOptions?.has(lower) === true && lower !== 'content-length') continue;
    if (lower === 'location' || lower === 'content-location') {
      const rewritten = rewriteLocations(value, rewriteLocation);
      if (rewritten !== undefined) headers[lower] = rewritten;
      continue;
    }
    headers[lower] = value;
  }
  headers['x-content-type-options'] = 'nosniff';
  if (policy.hsts !== undefined) headers['strict-transport-security'] = policy.hsts;
  if (policy.authenticated) headers['cache-control'] = 'no-store';
  return headers;
}

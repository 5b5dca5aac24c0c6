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

/** Adds the names listed in a `Connection` value (RFC 9110 §7.6.1), lower-cased, to `options`. */
function addConnectionOptions(options: Set<string> | undefined, value: string): Set<string> | undefined {
  // The usual value names only Keep-Alive, which is always removed as hop-by-hop.
  if (value.length === 10 && value.toLowerCase() === 'keep-alive') return options;
  const names = options ?? new Set<string>();
  for (const option of value.split(',')) names.add(option.trim().toLowerCase());
  return names;
}

/** Whether the flat list `headers` holds a field `name` (lower-case). */
function hasField(headers: readonly string[], name: string): boolean {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return true;
  return false;
}

/** The gateway's own fields on an answer: the upstream's value of any of them is dropped. */
export interface OwnResponseFields {
  readonly requestId: string;
  /**
   * The gateway's other fields (the rate limiter's), lower-case names: added unless the upstream
   * sent a field of the same name.
   */
  readonly extra: Readonly<Record<string, string>> | undefined;
}

/**
 * The headers sent to the client, as a flat list for `writeHead` (lower-case names, `upstream` is a
 * lower-case list as received): the upstream's without hop-by-hop headers, those named in
 * `Connection`, banners and the route's internal headers; `Location`/`Content-Location` rewritten
 * (dropped when they cannot be); plus `X-Request-Id`, `X-Content-Type-Options: nosniff`, HSTS, and
 * `Cache-Control: no-store` on authenticated responses (RFC 9111 §5.2.2.5: a response to a
 * credentialed request must not be replayed to someone else), each replacing the upstream's.
 */
export function buildClientResponseHeaders(
  upstream: readonly string[],
  policy: ResponsePolicy,
  rewriteLocation: (location: string) => string | undefined,
  own: OwnResponseFields,
): string[] {
  let connectionOptions: Set<string> | undefined;
  for (let i = 0; i < upstream.length; i += 2) {
    if (upstream[i] === 'connection')
      connectionOptions = addConnectionOptions(connectionOptions, upstream[i + 1] as string);
  }
  const hsts = policy.hsts;
  const headers: string[] = [];
  for (let i = 0; i < upstream.length; i += 2) {
    const name = upstream[i] as string;
    if (REMOVED.has(name) || policy.removeHeaders.has(name)) continue;
    if (name === 'x-request-id' || name === 'x-content-type-options') continue;
    if (
      (name === 'strict-transport-security' && hsts !== undefined) ||
      (name === 'cache-control' && policy.authenticated)
    )
      continue;
    // Content-Length frames the body the gateway relays: Connection cannot remove it.
    if (connectionOptions?.has(name) === true && name !== 'content-length') continue;
    let value = upstream[i + 1] as string;
    if (name === 'location' || name === 'content-location') {
      // Internal URLs never leave the gateway.
      const rewritten = rewriteLocation(value);
      if (rewritten === undefined) continue;
      value = rewritten;
    }
    headers.push(name, value);
  }
  const extra = own.extra;
  if (extra !== undefined) {
    for (const name in extra) if (!hasField(headers, name)) headers.push(name, extra[name] as string);
  }
  headers.push('x-request-id', own.requestId, 'x-content-type-options', 'nosniff');
  if (hsts !== undefined) headers.push('strict-transport-security', hsts);
  if (policy.authenticated) headers.push('cache-control', 'no-store');
  return headers;
}

export interface LocationMapping {
  /** The route's upstream target base URLs (`http://10.0.0.5:8080/svc`). */
  readonly upstreamBases: readonly string[];
  /** The path prefix the gateway forwards to (after the route's rewrite), e.g. `/internal/v1`. */
  readonly upstreamPrefix: string;
  /** The path prefix clients see, e.g. `/api/accounts`. */
  readonly publicPrefix: string;
  /** The gateway's public origin (`https://api.example.com`), for absolute Locations. */
  readonly publicOrigin: string;
}

// Relative references resolve against a host that cannot exist (RFC 6761 §6.4 `.invalid`), so
// anything that leaves it, e.g. `//host/x` or the browser-equivalent `/\host/x`, is seen as absolute.
const SENTINEL_BASE = 'http://gatehouse.invalid';
const SENTINEL_ORIGIN = new URL(SENTINEL_BASE).origin;
// RFC 3986 §3.1
const HAS_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/** `/` and `` are the root: no prefix. A trailing slash is not part of a prefix. */
function normalizePrefix(prefix: string): string {
  return prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
}

/** The rest of `path` after `prefix` on a segment boundary (`/a` is under `/a`, not `/ab`). */
function stripPrefix(path: string, prefix: string): string | undefined {
  if (prefix === '') return path;
  if (path === prefix) return '';
  return path.startsWith(prefix) && path.charCodeAt(prefix.length) === 0x2f
    ? path.slice(prefix.length)
    : undefined;
}

function mapPath(path: string, basePath: string, mapping: LocationMapping): string | undefined {
  const afterBase = stripPrefix(path, basePath);
  if (afterBase === undefined) return undefined;
  const rest = stripPrefix(afterBase === '' ? '/' : afterBase, normalizePrefix(mapping.upstreamPrefix));
  if (rest === undefined) return undefined;
  const mapped = normalizePrefix(mapping.publicPrefix) + rest;
  return mapped === '' ? '/' : mapped;
}

function parseBase(base: string): URL | undefined {
  return URL.canParse(base) ? new URL(base) : undefined;
}

/**
 * Maps an upstream's `Location` (RFC 9110 §10.2.2) back into the public URL space, so internal
 * hosts and path prefixes never reach the client. Returns the Location to send: mapped when it
 * pointed at an upstream target (absolute) or at a path (path-absolute), unchanged when it points
 * at another host or is relative to the request, and `undefined` when it is internal but outside
 * the route's upstream prefix: such a header must be dropped, not forwarded.
 */
export function rewriteLocation(location: string, mapping: LocationMapping): string | undefined {
  if (!URL.canParse(location, SENTINEL_BASE)) return undefined;
  const url = new URL(location, SENTINEL_BASE);
  const suffix = url.search + url.hash;
  if (!HAS_SCHEME.test(location) && url.origin === SENTINEL_ORIGIN) {
    // `?page=2`, `#x`, `next`: relative to the public URL the client asked for, nothing internal.
    if (!location.startsWith('/')) return location;
    const bases = mapping.upstreamBases.length === 0 ? [SENTINEL_BASE] : mapping.upstreamBases;
    for (const base of bases) {
      const basePath = normalizePrefix(parseBase(base)?.pathname ?? '');
      const mapped = mapPath(url.pathname, basePath, mapping);
      if (mapped !== undefined) return mapped + suffix;
    }
    return undefined;
  }
  let matchedOrigin = false;
  for (const base of mapping.upstreamBases) {
    const parsed = parseBase(base);
    if (parsed?.origin !== url.origin) continue;
    matchedOrigin = true;
    const mapped = mapPath(url.pathname, normalizePrefix(parsed.pathname), mapping);
    if (mapped !== undefined) return normalizePrefix(mapping.publicOrigin) + mapped + suffix;
  }
  // Another host (an identity provider, a CDN): the upstream meant it. An upstream host whose path
  // cannot be mapped would reveal the topology.
  return matchedOrigin ? undefined : location;
}

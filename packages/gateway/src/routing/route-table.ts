import type { HttpMethod, RouteConfig } from '../config/schema.js';

/** A route's path matcher, compiled once at config load. */
type PathMatcher = (path: string) => Record<string, string> | undefined;

const NO_PARAMS: Record<string, string> = Object.freeze({});

function compilePath(match: RouteConfig['match']): PathMatcher {
  const prefix = match.pathPrefix;
  if (prefix !== undefined) {
    if (prefix === '/') return () => NO_PARAMS;
    const below = `${prefix}/`;
    // Segment boundary: `/api/accounts` matches `/api/accounts/7`, never `/api/accountsX`.
    return (path) => (path === prefix || path.startsWith(below) ? NO_PARAMS : undefined);
  }
  const template = match.path ?? '/';
  if (!template.includes('{')) return (path) => (path === template ? NO_PARAMS : undefined);
  const segments = template.split('/');
  return (path) => {
    const parts = path.split('/');
    if (parts.length !== segments.length) return undefined;
    const params: Record<string, string> = {};
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i] as string;
      const part = parts[i] as string;
      if (segment.startsWith('{')) {
        // A template variable is one non-empty segment; it never spans a `/`.
        if (part === '') return undefined;
        params[segment.slice(1, -1)] = part;
      } else if (segment !== part) return undefined;
    }
    return params;
  };
}

type HostMatcher = (host: string) => boolean;

function compileHost(pattern: string | undefined): HostMatcher {
  if (pattern === undefined) return () => true;
  const withPort = pattern.includes(':');
  const strip = (host: string): string => {
    const lower = host.toLowerCase();
    if (withPort) return lower;
    // `[::1]:8080` → `[::1]`, `api.example.com:8080` → `api.example.com`
    const colon = lower.lastIndexOf(':');
    return colon > lower.lastIndexOf(']') ? lower.slice(0, colon) : lower;
  };
  if (pattern.startsWith('*.')) {
    const suffix = pattern.slice(1);
    return (host) => {
      const name = strip(host);
      return name.length > suffix.length && name.endsWith(suffix);
    };
  }
  return (host) => strip(host) === pattern;
}

export interface CompiledRoute {
  readonly config: RouteConfig;
  readonly matchHost: HostMatcher;
  readonly matchPath: PathMatcher;
  /** Methods this route matches; undefined: every method. */
  readonly methods: ReadonlySet<string> | undefined;
}

export type RouteMatch =
  | { readonly kind: 'route'; readonly route: CompiledRoute; readonly params: Record<string, string> }
  | { readonly kind: 'method-not-allowed'; readonly allow: readonly string[] }
  | { readonly kind: 'not-found' };

const NOT_FOUND: RouteMatch = Object.freeze({ kind: 'not-found' });

export interface RouteTable {
  readonly routes: readonly CompiledRoute[];
  /** First route (in config order) matching host, path and method; 405 when only the method differs. */
  match(host: string, method: string, path: string): RouteMatch;
}

export function buildRouteTable(routes: readonly RouteConfig[]): RouteTable {
  const compiled: CompiledRoute[] = routes.map((config) => ({
    config,
    matchHost: compileHost(config.match.host),
    matchPath: compilePath(config.match),
    methods: config.match.methods === undefined ? undefined : new Set<string>(config.match.methods),
  }));
  return {
    routes: compiled,
    match(host, method, path) {
      let allow: Set<string> | undefined;
      for (const route of compiled) {
        if (!route.matchHost(host)) continue;
        const params = route.matchPath(path);
        if (params === undefined) continue;
        if (route.methods === undefined || route.methods.has(method)) return { kind: 'route', route, params };
        allow ??= new Set();
        for (const allowed of route.methods) allow.add(allowed);
      }
      return allow === undefined ? NOT_FOUND : { kind: 'method-not-allowed', allow: [...allow].sort() };
    },
  };
}

/**
 * The upstream path of a matched request: `stripPrefix` removed, then `addPrefix` prepended, on
 * segment boundaries only (both were validated as canonical paths at config load).
 */
export function rewritePath(route: RouteConfig, path: string): string {
  let rewritten = path;
  const strip = route.stripPrefix;
  if (strip !== undefined && strip !== '/') {
    rewritten = path === strip ? '/' : path.slice(strip.length);
  }
  const add = route.addPrefix;
  if (add !== undefined && add !== '/') rewritten = rewritten === '/' ? add : `${add}${rewritten}`;
  return rewritten;
}

export type { HttpMethod };

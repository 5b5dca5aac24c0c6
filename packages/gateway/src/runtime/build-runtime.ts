import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { GatehouseError, type Logger } from '@gatehouse/core';
import type { GatewayConfig, RouteConfig, UpstreamConfig } from '../config/schema.js';
import { buildContentFilter, type ContentFilter } from '../filter/content-filter.js';
import { buildIpRules } from '../limits/ip-rules.js';
import type { RateLimitRule } from '../limits/rate-limit-rule.js';
import { createClientNetworks } from '../net/client-network.js';
import { buildIpSet, type IpSet } from '../net/ip-set.js';
import { loadOpenApiDocument, type OpenApiRoutes } from '../openapi/index.js';
import { buildRouteTable, rewritePath, type CompiledRoute, type RouteTable } from '../routing/route-table.js';
import { createUpstream, type Upstream, type UpstreamOptions } from '../upstream/index.js';

/** Everything a route needs per request, compiled once when the configuration is (re)loaded. */
export interface RouteRuntime {
  readonly id: string;
  readonly config: RouteConfig;
  readonly upstream: Upstream;
  readonly filter: ContentFilter;
  readonly openapi: OpenApiRoutes | undefined;
  readonly rateLimits: readonly RateLimitRule[];
  /** Scopes required for a method (the method's own plus `*`), frozen. */
  scopesFor(method: string): readonly string[];
  /** Scopes the OpenAPI document's security requirements name for an operation. */
  operationScopes(method: string, pathTemplate: string): readonly string[];
  /** Public prefix ↔ upstream prefix, for Location rewriting. */
  readonly publicPrefix: string;
  readonly upstreamPrefix: string;
  /** Base URLs of the upstream's targets (a Location pointing at one is mapped back). */
  readonly upstreamBases: readonly string[];
  /** The same route on its `fallbackUpstream` (used while the route is rerouted); undefined without one. */
  readonly rerouted: RouteRuntime | undefined;
}

/** One loaded configuration: swapped atomically on reload, in-flight requests keep theirs. */
export interface Runtime {
  readonly config: GatewayConfig;
  readonly table: RouteTable;
  readonly routes: ReadonlyMap<CompiledRoute, RouteRuntime>;
  readonly upstreams: ReadonlyMap<string, Upstream>;
  readonly trustedProxies: IpSet;
  /**
   * What a client is counted by (`ipv6ClientPrefix`): its IPv4 address, or its IPv6 network as CIDR.
   */
  readonly clientNetwork: (ip: string) => string;
  /** `clientCertificateHeader`, lower-case: read from trusted proxies instead of the connection's certificate. */
  readonly certificateHeader: string | undefined;
  readonly ipRules: { decide(ip: string): 'allow' | 'deny' };
  readonly removeHeaders: ReadonlySet<string>;
  /** Starts health checks. */
  start(): void;
  /** Closes the upstream pools once their in-flight requests are done. */
  close(): Promise<void>;
}

export interface BuildRuntimeOptions {
  /** Folder relative paths in the configuration (OpenAPI documents, certificates) are resolved from. */
  readonly baseDir: string;
  readonly logger: Logger;
  readonly now?: () => number;
}

const EMPTY: readonly string[] = Object.freeze([]);

async function readPem(baseDir: string, file: string | undefined): Promise<string | undefined> {
  return file === undefined ? undefined : readFile(resolve(baseDir, file), 'utf8');
}

async function upstreamOptions(
  id: string,
  config: UpstreamConfig,
  baseDir: string,
): Promise<UpstreamOptions> {
  const tls = config.tls;
  let tlsOptions: UpstreamOptions['tls'];
  if (tls !== undefined) {
    const [cert, key, ca] = await Promise.all([
      readPem(baseDir, tls.certFile),
      readPem(baseDir, tls.keyFile),
      readPem(baseDir, tls.caFile),
    ]);
    tlsOptions = {
      ...(cert === undefined ? {} : { cert }),
      ...(key === undefined ? {} : { key }),
      ...(ca === undefined ? {} : { ca }),
      ...(tls.servername === undefined ? {} : { servername: tls.servername }),
      ...(tls.identity === undefined
        ? {}
        : {
            identity: {
              ...(tls.identity.uri === undefined ? {} : { uri: tls.identity.uri }),
              ...(tls.identity.dns === undefined ? {} : { dns: tls.identity.dns }),
            },
          }),
    };
  }
  return {
    id,
    targets: config.targets,
    ...(tlsOptions === undefined ? {} : { tls: tlsOptions }),
    timeouts: config.timeouts,
    retries: config.retries,
    ...(config.healthCheck === undefined ? {} : { healthCheck: config.healthCheck }),
    circuitBreaker: config.circuitBreaker,
    maxConnections: config.maxConnections,
  };
}

function scopeLookup(route: RouteConfig): (method: string) => readonly string[] {
  const any = route.scopes['*'] ?? [];
  const byMethod = new Map<string, readonly string[]>();
  for (const [method, scopes] of Object.entries(route.scopes)) {
    if (method !== '*') byMethod.set(method, Object.freeze([...new Set([...any, ...scopes])]));
  }
  const fallback = any.length === 0 ? EMPTY : Object.freeze([...any]);
  // HEAD reads what GET reads (RFC 9110 §9.3.2): it needs GET's scopes unless it has its own.
  const get = byMethod.get('GET');
  if (get !== undefined && !byMethod.has('HEAD')) byMethod.set('HEAD', get);
  return (method) => byMethod.get(method) ?? fallback;
}

function operationScopeLookup(openapi: OpenApiRoutes | undefined): RouteRuntime['operationScopes'] {
  const byOperation = new Map<string, readonly string[]>();
  for (const operation of openapi?.operations ?? [])
    byOperation.set(`${operation.method} ${operation.pathTemplate}`, operation.scopes);
  // HEAD is answered like GET (RFC 9110 §9.3.2), so it needs GET's scopes.
  return (method, pathTemplate) =>
    byOperation.get(`${method} ${pathTemplate}`) ??
    (method === 'HEAD' ? byOperation.get(`GET ${pathTemplate}`) : undefined) ??
    EMPTY;
}

function rateLimitRules(route: RouteConfig): readonly RateLimitRule[] {
  return route.rateLimits.map((limit) => ({
    id: limit.id,
    algorithm: limit.algorithm,
    limit: limit.limit,
    windowMs: Math.round(limit.windowSec * 1000),
    ...(limit.burst === undefined ? {} : { burst: limit.burst }),
    key: limit.key,
  }));
}

/** The literal part of a route's path before any template variable, on a segment boundary. */
function staticPrefix(route: RouteConfig): string {
  const path = route.match.pathPrefix ?? route.match.path ?? '/';
  const brace = path.indexOf('{');
  if (brace === -1) return path;
  const cut = path.slice(0, path.lastIndexOf('/', brace));
  return cut === '' ? '/' : cut;
}

function invalid(detail: string, cause?: unknown): GatehouseError {
  return new GatehouseError('ERR_CONFIG_INVALID', { detail, cause });
}

/** Compiles a validated configuration: reads OpenAPI documents and certificates, builds the pools. */
export async function buildRuntime(config: GatewayConfig, options: BuildRuntimeOptions): Promise<Runtime> {
  const upstreams = new Map<string, Upstream>();
  const deps = { logger: options.logger, ...(options.now === undefined ? {} : { now: options.now }) };
  try {
    for (const [id, upstream] of Object.entries(config.upstreams)) {
      upstreams.set(id, createUpstream(await upstreamOptions(id, upstream, options.baseDir), deps));
    }
    const table = buildRouteTable(config.routes);
    const routes = new Map<CompiledRoute, RouteRuntime>();
    for (const compiled of table.routes) {
      const route = compiled.config;
      let openapi: OpenApiRoutes | undefined;
      if (route.openapi !== undefined) {
        try {
          openapi = await loadOpenApiDocument(resolve(options.baseDir, route.openapi));
        } catch (cause) {
          throw invalid(`routes.${route.id}.openapi: cannot load ${route.openapi}`, cause);
        }
      }
      let filter: ContentFilter;
      try {
        filter = buildContentFilter({
          ...(route.methods === undefined ? {} : { methods: route.methods }),
          contentTypes: route.contentTypes,
          maxBodyBytes: route.maxBodyBytes,
          deny: route.deny,
        });
      } catch (cause) {
        throw invalid(`routes.${route.id}.deny: ${(cause as Error).message}`, cause);
      }
      const upstream = upstreams.get(route.upstream) as Upstream;
      const publicPrefix = staticPrefix(route);
      const runtime: RouteRuntime = {
        id: route.id,
        config: route,
        upstream,
        filter,
        openapi,
        rateLimits: rateLimitRules(route),
        scopesFor: scopeLookup(route),
        operationScopes: operationScopeLookup(openapi),
        publicPrefix,
        upstreamPrefix: rewritePath(route, publicPrefix),
        upstreamBases: (config.upstreams[route.upstream] as UpstreamConfig).targets,
        rerouted: undefined,
      };
      const fallback = route.fallbackUpstream;
      // Only the upstream differs: auth, limits and rewriting are the route's own either way.
      routes.set(
        compiled,
        fallback === undefined
          ? runtime
          : {
              ...runtime,
              rerouted: {
                ...runtime,
                upstream: upstreams.get(fallback) as Upstream,
                upstreamBases: (config.upstreams[fallback] as UpstreamConfig).targets,
              },
            },
      );
    }
    let trustedProxies: IpSet;
    let ipRules: Runtime['ipRules'];
    try {
      trustedProxies = buildIpSet(config.trustedProxies);
      ipRules = buildIpRules(config.ipRules);
    } catch (cause) {
      throw invalid(`trustedProxies / ipRules: ${(cause as Error).message}`, cause);
    }
    return {
      config,
      table,
      routes,
      upstreams,
      trustedProxies,
      clientNetwork: createClientNetworks(config.ipv6ClientPrefix),
      certificateHeader: config.clientCertificateHeader?.toLowerCase(),
      ipRules,
      removeHeaders: new Set(config.responses.removeHeaders),
      start() {
        for (const upstream of upstreams.values()) upstream.start();
      },
      async close() {
        await Promise.allSettled([...upstreams.values()].map((upstream) => upstream.close()));
      },
    };
  } catch (err) {
    await Promise.allSettled([...upstreams.values()].map((upstream) => upstream.close()));
    throw err;
  }
}

import { forwardedCertificateHeaderSchema, tlsListenerSchema } from '@gatehouse/core';
import { z } from 'zod';
import { alertsSchema, detectionSchema } from './detection-schema.js';
import { checkExtAuthzConfig, extAuthzSchema } from '../ext-authz/schema.js';
import { DEFAULT_IPV6_CLIENT_PREFIX } from '../net/client-network.js';

const positiveInt = (description: string, fallback: number) =>
  z.number().int().positive().default(fallback).describe(description);

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
const methodSchema = z.enum(HTTP_METHODS);
export type HttpMethod = z.output<typeof methodSchema>;

const scopeToken = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope token (RFC 6749 §3.3)');
const id = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, - and _ (a metrics label)');

/** A path prefix or template as written in the config: canonical, no query, no trailing slash. */
const routePath = z
  .string()
  .regex(/^\/([A-Za-z0-9\-._~!$&'()*+,=:@]|\{[A-Za-z_][A-Za-z0-9_]*\}|\/(?!\/))*$/, 'an absolute path')
  .refine((value) => value === '/' || !value.endsWith('/'), { error: 'no trailing slash' })
  .refine((value) => !/(^|\/)\.\.?(\/|$)/.test(value), { error: 'no dot-segments' });

const upstreamTlsSchema = z.strictObject({
  certFile: z
    .string()
    .min(1)
    .optional()
    .describe('Client certificate (PEM) presented to the upstream (mTLS)'),
  keyFile: z.string().min(1).optional().describe('Private key (PEM) of the client certificate'),
  caFile: z
    .string()
    .min(1)
    .optional()
    .describe('CA certificate(s) (PEM) pinned for this upstream: only they are trusted'),
  servername: z
    .string()
    .min(1)
    .optional()
    .describe('TLS server name (SNI) and default expected DNS identity'),
  identity: z
    .strictObject({
      uri: z.string().min(1).optional().describe('SAN URI the upstream certificate must carry'),
      dns: z.string().min(1).optional().describe('SAN DNS name the upstream certificate must carry'),
    })
    .optional()
    .describe('Expected server identity, checked in addition to the pinned CA'),
});

const upstreamSchema = z.strictObject({
  targets: z
    .array(z.url({ protocol: /^https?$/ }))
    .min(1)
    .describe('Base URLs of the upstream instances (round-robin); no path beyond `/`'),
  tls: upstreamTlsSchema.optional().describe('TLS to the upstream (for https targets)'),
  // Timeouts belong to the upstream, as Kong's belong to its Service: a route that needs other
  // timeouts names its own upstream entry (the same targets with other settings).
  timeouts: z
    .strictObject({
      connectMs: positiveInt('TCP + TLS connect timeout', 2000),
      headersMs: positiveInt('Time allowed until the response headers arrive', 10_000),
      bodyMs: positiveInt('Time allowed between two chunks of the response body', 30_000),
    })
    .prefault({}),
  retries: z
    .number()
    .int()
    .min(0)
    .max(5)
    .default(1)
    .describe('Retries on another target, only for idempotent methods and only when nothing was received'),
  healthCheck: z
    .strictObject({
      path: routePath.describe('Path probed with GET; 2xx/3xx is healthy'),
      intervalMs: positiveInt('Probe interval', 5000),
      timeoutMs: positiveInt('Probe timeout', 2000),
      unhealthyAfter: positiveInt('Consecutive failed probes before a target is taken out', 2),
      healthyAfter: positiveInt('Consecutive good probes before it is put back', 2),
    })
    .optional()
    .describe('Active health checks (passive checks are the circuit breaker)'),
  circuitBreaker: z
    .strictObject({
      failureThreshold: positiveInt(
        'Consecutive failures (errors, 5xx) that open the circuit of a target',
        5,
      ),
      openMs: positiveInt('How long an open circuit refuses before half-open probing', 10_000),
      halfOpenProbes: positiveInt('Requests let through while half-open', 1),
    })
    .prefault({}),
  maxConnections: positiveInt('Connections per target', 128),
});

const rateLimitSchema = z.strictObject({
  id: id.describe('Name of the limit (RateLimit-Policy name, metrics)'),
  algorithm: z.enum(['gcra', 'sliding-window']).default('gcra'),
  limit: z.number().int().positive().describe('Requests allowed per window'),
  windowSec: z.number().positive().describe('Window length in seconds'),
  burst: z.number().int().positive().optional().describe('GCRA burst (default: limit)'),
  key: z
    .array(z.enum(['ip', 'client_id', 'sub', 'route']))
    .min(1)
    .default(['ip'])
    .describe('What the limit counts per: a combination of client IP, client_id, sub and route'),
});

const denySchema = z.strictObject({
  path: z.array(z.string()).default([]).describe('Regexes refused on the canonical path'),
  query: z.array(z.string()).default([]).describe('Regexes refused on the raw query string'),
  headers: z
    .record(z.string().regex(/^[a-z0-9-]+$/, 'a lower-case header name'), z.array(z.string()))
    .default({})
    .describe('Regexes refused per header (lower-case names)'),
});

const routeSchema = z
  .strictObject({
    id: id.describe('Route id: metrics label and access-log field'),
    match: z
      .strictObject({
        host: z
          .string()
          .regex(/^(\*\.)?[a-z0-9.-]+(:\d+)?$/, 'a lower-case host, optionally `*.` wildcard')
          .optional()
          .describe('Host header to match (exact, or `*.example.com`)'),
        pathPrefix: routePath
          .optional()
          .describe('Matches this path and everything below it (segment boundary)'),
        path: routePath.optional().describe('Exact path or template such as `/api/accounts/{id}`'),
        methods: z
          .array(methodSchema)
          .min(1)
          .optional()
          .describe('Methods this route matches (default: all)'),
      })
      .refine((match) => (match.pathPrefix === undefined) !== (match.path === undefined), {
        error: 'exactly one of match.pathPrefix and match.path',
      }),
    upstream: id.describe('Name of an upstream in `upstreams`'),
    fallbackUpstream: id
      .optional()
      .describe(
        'Upstream in `upstreams` the route switches to while an alert reroutes it (Alertmanager `gatehouse_action="reroute"`)',
      ),
    stripPrefix: routePath.optional().describe('Removed from the start of the path before proxying'),
    addPrefix: routePath.optional().describe('Prepended to the path (after stripPrefix) before proxying'),
    auth: z
      .enum(['none', 'jwt', 'opaque', 'any'])
      .describe('Required: none (public), jwt, opaque (introspection + phantom token) or any'),
    audience: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Internal audience of the service (phantom tokens are exchanged for it); required unless auth is none',
      ),
    scopes: z
      .partialRecord(z.enum([...HTTP_METHODS, '*']), z.array(scopeToken))
      .default({})
      .describe('Scopes required per method (`*`: every method), all of them; coarse-grained'),
    openapi: z
      .string()
      .min(1)
      .optional()
      .describe('OpenAPI 3 document: only its operations pass, parameters and JSON bodies are validated'),
    methods: z.array(methodSchema).min(1).optional().describe('Methods allowed (405 otherwise)'),
    contentTypes: z
      .array(z.string().regex(/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/))
      .default(['application/json'])
      .describe('Media types a request body may have'),
    maxBodyBytes: z.number().int().min(0).default(1_048_576).describe('Largest request body'),
    deny: denySchema.prefault({}),
    rateLimits: z
      .array(rateLimitSchema)
      .default([])
      .describe('Limits applied to this route (all must allow)'),
    allowCookies: z.boolean().default(false).describe('Forward the Cookie header to the upstream'),
  })
  .refine((route) => route.auth === 'none' || route.audience !== undefined, {
    error: 'audience is required when auth is not none',
    path: ['audience'],
  });

export const gatewayConfigSchema = z
  .strictObject({
    listen: z
      .strictObject({
        host: z.string().min(1).default('127.0.0.1').describe('Address to bind'),
        port: z.number().int().min(0).max(65535).default(8080).describe('TCP port (0: any free port)'),
        tls: tlsListenerSchema
          .optional()
          .describe('HTTPS for the gateway listener; absent: plain HTTP (HTTP/1.1 only, h2c refused)'),
        http2: z
          .boolean()
          .default(true)
          .describe('With tls: offer HTTP/2 by ALPN, HTTP/1.1 to clients that do not ask for it'),
      })
      .prefault({}),
    publicUrl: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe(
        'External origin of the gateway (DPoP `htu`, Location rewriting); default: the listen address',
      ),
    trustedProxies: z
      .array(z.string())
      .default([])
      .describe('Peers (IPs, CIDR) whose X-Forwarded-For / Forwarded headers are believed'),
    ipv6ClientPrefix: z
      .int()
      .min(32)
      .max(128)
      .default(DEFAULT_IPV6_CLIENT_PREFIX)
      .describe(
        'IPv6 clients are counted per network of this many bits (an IPv6 client usually holds a /64): ' +
          'rate limits keyed by `ip`, brute-force counts, the abuse detectors and their automatic bans, ' +
          "the admin console's top clients. " +
          'IPv4 clients are counted per address; 128: IPv6 per address too',
      ),
    clientCertificateHeader: forwardedCertificateHeaderSchema(
      'believed only from `trustedProxies`, whose requests are then checked against it alone for ' +
        "certificate-bound tokens (RFC 8705); default: the TLS connection's own certificate only",
    ),
    limits: z
      .strictObject({
        maxUrlLength: positiveInt('Longest request target (414 beyond)', 8192),
        maxHeaderBytes: positiveInt('Largest header section (431 beyond)', 16_384),
        maxHeaderCount: positiveInt('Most header fields (431 beyond)', 100),
        headersTimeoutMs: positiveInt('Time allowed to receive the headers (slowloris)', 10_000),
        requestTimeoutMs: positiveInt('Time allowed to receive the whole request', 30_000),
        keepAliveTimeoutMs: positiveInt('Idle keep-alive connection lifetime', 5000),
        maxConcurrentStreams: positiveInt(
          'HTTP/2 requests in progress at once on one connection (REFUSED_STREAM beyond)',
          100,
        ),
        maxJsonDepth: positiveInt('Deepest JSON nesting in a request body', 32),
        maxJsonMembers: positiveInt('Most members of one JSON object or array', 1000),
      })
      .prefault({}),
    responses: z
      .strictObject({
        removeHeaders: z
          .array(z.string().regex(/^[a-z0-9-]+$/))
          .default([])
          .describe('Upstream response headers never sent to clients (Server and X-Powered-By always go)'),
        hsts: z
          .union([z.string().min(1), z.literal(false)])
          .default('max-age=31536000; includeSubDomains')
          .describe('Strict-Transport-Security value (false: none)'),
        replaceUpstreamErrors: z
          .boolean()
          .default(true)
          .describe('Replace upstream 5xx bodies with a generic problem+json (no stack trace leaks)'),
      })
      .prefault({}),
    auth: z
      .strictObject({
        issuer: z.url().describe('Issuer of the authorization server (discovery is read from it)'),
        audience: z
          .array(z.string().min(1))
          .default([])
          .describe(
            "The gateway's own audiences: a JWT for one of them is exchanged for the route's internal " +
              "audience, a JWT for the route's audience is forwarded unchanged, any other is refused",
          ),
        clientId: z.string().min(1).describe("The gateway's own client (introspection and token exchange)"),
        clientSecret: z.string().min(1).describe('Its secret, typically `${GATEWAY_CLIENT_SECRET}`'),
        introspectionCacheSize: positiveInt('Introspection results cached', 100_000),
        negativeCacheMs: positiveInt('How long an inactive token is remembered', 5000),
        timeoutMs: positiveInt('Deadline of a call to the authorization server', 3000),
        jwksMaxStaleSec: z
          .number()
          .int()
          .min(0)
          .default(3600)
          .describe(
            'While the JWKS endpoint is unreachable, how long past their freshness the cached keys keep ' +
              'verifying JWTs (then JWTs get 503 with Retry-After)',
          ),
        revocationPollMs: positiveInt(
          'While the shared state (Redis) is down, how often the revocation feed in the database is read: ' +
            'a revocation reaches this gateway within about that long',
          1000,
        ),
        revocationResyncMs: positiveInt(
          'While the shared state is up, how often the revocation feed is read anyway (safety net behind pub/sub)',
          30_000,
        ),
      })
      .optional()
      .describe('Token validation; required when a route has auth other than none'),
    rateLimit: z
      .strictObject({
        store: z
          .enum(['memory', 'redis'])
          .default('memory')
          .describe('Where counters live; redis uses sharedState.url / REDIS_URL'),
        onStoreFailure: z
          .enum(['open', 'closed', 'local'])
          .default('local')
          .describe('When the store fails: allow, refuse (503), or count in process memory'),
      })
      .prefault({}),
    ipRules: z
      .strictObject({
        allow: z.array(z.string()).default([]).describe('Only these IPs/CIDRs may call (empty: everyone)'),
        deny: z.array(z.string()).default([]).describe('IPs/CIDRs always refused'),
      })
      .prefault({}),
    bruteForce: z
      .strictObject({
        enabled: z.boolean().default(true),
        threshold: positiveInt('401 answers within the window that trigger a ban', 20),
        windowSec: positiveInt('Counting window', 60),
        banSec: positiveInt('First ban duration', 300),
        multiplier: z.number().min(1).default(2).describe('Each repeated offence multiplies the ban'),
        maxBanSec: positiveInt('Longest automatic ban', 86_400),
      })
      .prefault({}),
    detection: detectionSchema,
    alerts: alertsSchema,
    auditRequests: z
      .enum(['refused', 'authenticated', 'all', 'none'])
      .default('refused')
      .describe(
        'Requests recorded as `authz.decision` audit events: refusals of requests with a valid token ' +
          '(refused); every request with a valid token, admitted or refused, so that `report access` ' +
          'lists API calls (authenticated: costly at high load); every request, anonymous refusals too ' +
          '(all, for low-volume APIs); none. The access log records every request whatever this says',
      ),
    admin: z
      .strictObject({
        listen: z
          .strictObject({
            host: z.string().min(1).default('127.0.0.1'),
            port: z.number().int().min(0).max(65535).default(9091),
            tls: tlsListenerSchema
              .optional()
              .describe(
                'HTTPS for the admin listener (clientAuth require: admin clients need a certificate)',
              ),
          })
          .prefault({})
          .describe(
            'Admin listener of a gateway started alone (in `gatehouse up` it shares the admin listener)',
          ),
      })
      .prefault({}),
    extAuthz: extAuthzSchema,
    upstreams: z.record(id, upstreamSchema).describe('Named upstream services'),
    routes: z.array(routeSchema).min(1).describe('Routes, first match wins'),
  })
  .superRefine((config, context) => {
    checkExtAuthzConfig(config, context);
    if (config.clientCertificateHeader !== undefined && config.trustedProxies.length === 0)
      context.addIssue({
        code: 'custom',
        message: 'clientCertificateHeader is read only from trusted proxies: list them in trustedProxies',
        path: ['clientCertificateHeader'],
      });
    const ids = new Set<string>();
    config.routes.forEach((route, index) => {
      if (ids.has(route.id))
        context.addIssue({
          code: 'custom',
          message: `duplicate route id ${route.id}`,
          path: ['routes', index, 'id'],
        });
      ids.add(route.id);
      if (!Object.hasOwn(config.upstreams, route.upstream))
        context.addIssue({
          code: 'custom',
          message: `unknown upstream ${route.upstream}`,
          path: ['routes', index, 'upstream'],
        });
      if (route.fallbackUpstream !== undefined && !Object.hasOwn(config.upstreams, route.fallbackUpstream))
        context.addIssue({
          code: 'custom',
          message: `unknown upstream ${route.fallbackUpstream}`,
          path: ['routes', index, 'fallbackUpstream'],
        });
      if (route.fallbackUpstream === route.upstream)
        context.addIssue({
          code: 'custom',
          message: 'fallbackUpstream must differ from upstream',
          path: ['routes', index, 'fallbackUpstream'],
        });
      if (route.auth !== 'none' && config.auth === undefined)
        context.addIssue({
          code: 'custom',
          message: 'auth is required when a route authenticates',
          path: ['routes', index, 'auth'],
        });
      const base = route.match.pathPrefix ?? route.match.path ?? '/';
      if (
        route.stripPrefix !== undefined &&
        route.stripPrefix !== '/' &&
        !(base === route.stripPrefix || base.startsWith(`${route.stripPrefix}/`))
      )
        context.addIssue({
          code: 'custom',
          message: 'stripPrefix must be a prefix of the matched path',
          path: ['routes', index, 'stripPrefix'],
        });
    });
  })
  .describe('The API gateway');

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
export type RouteConfig = GatewayConfig['routes'][number];
export type UpstreamConfig = GatewayConfig['upstreams'][string];

/** Parses (and defaults) a gateway section given as plain data, e.g. by tests. */
export function buildGatewayConfig(input: GatewayConfigInput): GatewayConfig {
  return gatewayConfigSchema.parse(input);
}

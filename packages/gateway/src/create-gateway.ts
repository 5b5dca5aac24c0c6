import {
  createServer,
  Server as HttpServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Http2SecureServer } from 'node:http2';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import {
  attachOcspStapling,
  buildProblemResponse,
  createMetricsRegistry,
  emitAuditEvent,
  GatehouseError,
  loadTlsServerOptions,
  watchTlsFiles,
  type AuditSink,
  type CertificateInfo,
  type Logger,
  type MetricsRegistry,
  type SharedState,
  statusTitle,
  type TlsReloader,
} from '@gatehouse/core';
import type { Kysely } from 'kysely';
import { createGatewayAuthenticator, type GatewayAuthenticator } from './auth/index.js';
import type { GatewayConfig } from './config/schema.js';
import { migrateGateway } from './db/migrations.js';
import type { GatewayDatabase } from './db/schema.js';
import {
  createAbuseMonitor,
  openWindowStore,
  type DetectionRecord,
  type GatewayAlerts,
} from './detect/index.js';
import { createBanList, type BanList } from './limits/ban-list.js';
import { createBruteForceDetector } from './limits/brute-force.js';
import { createMemoryRateLimitStore } from './limits/memory-rate-limit-store.js';
import { createRateLimiter } from './limits/rate-limiter.js';
import { createRedisRateLimitStore } from './limits/redis-rate-limit-store.js';
import type { RateLimitStore } from './limits/rate-limit-store.js';
import { createHttp2Listener, type Http2Listener } from './http/http2-listener.js';
import { createAccessLog } from './observability/access-log.js';
import { createGatewayMetrics } from './observability/gateway-metrics.js';
import { createTopClients, type TopClients } from './observability/top-clients.js';
import { createExtAuthzHandler, createExtAuthzListener, type ExtAuthzListener } from './ext-authz/index.js';
import { createRequestHandler, type PipelineDeps } from './pipeline/handle-request.js';
import { createRequestAuditor } from './pipeline/audit-request.js';
import { createRerouteList, type RerouteList } from './routing/reroute-list.js';
import { buildRuntime, type Runtime } from './runtime/build-runtime.js';

export interface GatewayDeps {
  readonly config: GatewayConfig;
  /** Folder that relative paths of the configuration (OpenAPI, certificates) are resolved from. */
  readonly baseDir: string;
  /** Durable store of bans (SQLite or PostgreSQL). */
  readonly db: Kysely<unknown>;
  readonly state: SharedState;
  readonly logger: Logger;
  readonly audit?: AuditSink;
  /** Redis URL for `rateLimit.store: redis`. */
  readonly redisUrl?: string | undefined;
  /** Prefix of the rate-limit keys in Redis (`sharedState.prefix`; default `gatehouse:`). */
  readonly redisPrefix?: string | undefined;
  /** Registry to add the gateway's series to (shared with other components in `gatehouse up`). */
  readonly metrics?: MetricsRegistry;
  readonly now?: () => number;
}

export interface GatewayHealth {
  readonly ready: boolean;
  readonly draining: boolean;
  readonly upstreams: readonly {
    readonly id: string;
    readonly targets: readonly { target: string; healthy: boolean; circuit: string }[];
  }[];
}

export interface Gateway {
  /** Binds the listener of the configuration; resolves to its URL (https:// with `listen.tls`). */
  listen(): Promise<string>;
  /**
   * URL of the external-authorization listener (`extAuthz`; https:// with `extAuthz.listen.tls`),
   * once listening; undefined without one.
   */
  extAuthzUrl(): string | undefined;
  /**
   * A node:http server; with `listen.tls`, a node:http2 secure server that also speaks HTTP/1.1
   * (`listen.http2`, the default) or a node:https one.
   */
  readonly server: Server | HttpsServer | Http2SecureServer;
  readonly bans: BanList;
  /** Routes switched to their `fallbackUpstream` by alerts (`GET /admin/gateway/reroutes`). */
  readonly reroutes: RerouteList;
  readonly metrics: MetricsRegistry;
  /** The heaviest clients of the last 5 to 10 minutes (`GET /admin/gateway/top-clients`). */
  readonly topClients: TopClients;
  /** Abuse detections flagged for review (`detection.*.action: flag`), newest first. */
  detections(): DetectionRecord[];
  /** Alert rules: firing and recent alerts, and an evaluation on demand. */
  readonly alerts: GatewayAlerts;
  /** The configuration in force. */
  config(): GatewayConfig;
  /**
   * Swaps in a new configuration: compiled completely first (a bad one changes nothing), then
   * atomically; requests in flight finish on the configuration they started with.
   */
  reload(config: GatewayConfig): Promise<void>;
  health(): GatewayHealth;
  /**
   * Re-reads the certificate files of `listen.tls` and `extAuthz.listen.tls` (SIGHUP; they are also
   * watched). Resolves false when a listener's were refused (its previous certificate stays), true
   * otherwise or without TLS.
   */
  reloadCertificates(): Promise<boolean>;
  /**
   * Records the certificate a TLS listener serves in `gatehouse_tls_certificate_expiry_seconds`
   * (the gateway's own listeners report themselves as `gateway` and `ext-authz`; `gatehouse gateway`
   * adds `admin`).
   */
  recordCertificate(listener: string, info: CertificateInfo): void;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then releases everything. */
  close(graceMs?: number): Promise<void>;
}

function statusOfClientError(err: NodeJS.ErrnoException): { code: Parameters<typeof errorBody>[0] } {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { code: 'ERR_GATEWAY_HEADERS_TOO_LARGE' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { code: 'ERR_GATEWAY_REQUEST_TIMEOUT' };
    default:
      return { code: 'ERR_GATEWAY_BAD_REQUEST' };
  }
}

function errorBody(
  code:
    | 'ERR_GATEWAY_HEADERS_TOO_LARGE'
    | 'ERR_GATEWAY_REQUEST_TIMEOUT'
    | 'ERR_GATEWAY_BAD_REQUEST'
    | 'ERR_GATEWAY_METHOD_NOT_ALLOWED',
): string {
  const status = new GatehouseError(code).status;
  const response = buildProblemResponse({ status, extensions: { code } });
  return (
    `HTTP/1.1 ${status} ${statusTitle(status)}\r\n` +
    'content-type: application/problem+json\r\n' +
    'cache-control: no-store\r\n' +
    'x-content-type-options: nosniff\r\n' +
    'connection: close\r\n' +
    `content-length: ${Buffer.byteLength(response.body)}\r\n\r\n${response.body}`
  );
}

async function openRateLimitStore(deps: GatewayDeps): Promise<RateLimitStore> {
  if (deps.config.rateLimit.store === 'memory') return createMemoryRateLimitStore();
  if (deps.redisUrl === undefined)
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      detail: 'gateway.rateLimit.store is redis but no Redis URL is configured (sharedState.url / REDIS_URL)',
    });
  // With a fallback (open, local) the gateway starts while Redis is down and reconnects by itself.
  return createRedisRateLimitStore({
    url: deps.redisUrl,
    ...(deps.redisPrefix === undefined ? {} : { prefix: deps.redisPrefix }),
    requireConnection: deps.config.rateLimit.onStoreFailure === 'closed',
  });
}

async function openAuthenticator(
  config: GatewayConfig,
  deps: GatewayDeps,
): Promise<GatewayAuthenticator | undefined> {
  const auth = config.auth;
  if (auth === undefined) return undefined;
  const audiences = new Set(auth.audience);
  for (const route of config.routes) if (route.audience !== undefined) audiences.add(route.audience);
  const authenticator = await createGatewayAuthenticator(
    {
      issuer: auth.issuer,
      jwtAudience: [...audiences],
      externalAudience: auth.audience,
      client: { clientId: auth.clientId, clientSecret: auth.clientSecret },
      introspectionCache: { maxEntries: auth.introspectionCacheSize, negativeTtlMs: auth.negativeCacheMs },
      exchangeCache: { maxEntries: auth.introspectionCacheSize },
      timeoutMs: auth.timeoutMs,
      jwksMaxStaleSec: auth.jwksMaxStaleSec,
      revocationPollMs: auth.revocationPollMs,
      revocationResyncMs: auth.revocationResyncMs,
    },
    {
      state: deps.state,
      // The revocation feed lives in the deployment's database, next to the bans.
      db: deps.db,
      logger: deps.logger,
      ...(deps.now === undefined ? {} : { now: deps.now }),
    },
  );
  try {
    await authenticator.start();
  } catch (err) {
    await authenticator.close();
    throw err;
  }
  return authenticator;
}

/**
 * The gateway: a strict node:http listener running the request pipeline over the routes of the
 * configuration, with bans and limits shared through the stores.
 */
export async function createGateway(deps: GatewayDeps): Promise<Gateway> {
  // `component` is the process's (e.g. gatehouse); `service` says which part of it wrote the line.
  const logger = deps.logger.child({ service: 'gateway' });
  const accessLog = createAccessLog(deps.logger);
  await migrateGateway(deps.db);
  const now = deps.now ?? Date.now;

  let runtime: Runtime = await buildRuntime(deps.config, { baseDir: deps.baseDir, logger, now });
  let authenticator: GatewayAuthenticator | undefined;
  const store = await openRateLimitStore(deps);
  const bans = createBanList({
    db: deps.db as Kysely<GatewayDatabase>,
    state: deps.state,
    now,
    logger,
    ...(deps.audit === undefined ? {} : { audit: deps.audit }),
  });
  const reroutes = createRerouteList({
    db: deps.db as Kysely<GatewayDatabase>,
    state: deps.state,
    routes: () => runtime.config.routes,
    now,
    logger,
    audit: deps.audit,
  });
  try {
    authenticator = await openAuthenticator(deps.config, deps);
    await bans.start();
    await reroutes.start();
  } catch (err) {
    await Promise.allSettled([
      runtime.close(),
      store.close(),
      authenticator?.close(),
      bans.stop(),
      reroutes.stop(),
    ]);
    throw err;
  }
  const limiter = createRateLimiter({
    store,
    onStoreFailure: deps.config.rateLimit.onStoreFailure,
    now,
    logger,
  });
  // The detectors' windows (`detection.store`, read at start); Redis down does not stop the start.
  const windows = await openWindowStore(deps.config.detection, {
    redisUrl: deps.redisUrl,
    redisPrefix: deps.redisPrefix,
    logger,
  }).catch(async (err: unknown) => {
    await Promise.allSettled([
      runtime.close(),
      store.close(),
      limiter.close(),
      authenticator?.close(),
      bans.stop(),
      reroutes.stop(),
    ]);
    throw err;
  });
  /** Everything the gateway opened: released on close, or when the start fails after this point. */
  const releaseAll = (): Promise<unknown> =>
    Promise.allSettled([
      runtime.close(),
      store.close(),
      limiter.close(),
      windows.close(),
      authenticator?.close(),
      bans.stop(),
      reroutes.stop(),
    ]);
  const bruteForceConfig = (): GatewayConfig['bruteForce'] => runtime.config.bruteForce;
  let bruteForce = bruteForceConfig().enabled ? buildBruteForce(bruteForceConfig()) : undefined;
  function buildBruteForce(config: GatewayConfig['bruteForce']): ReturnType<typeof createBruteForceDetector> {
    return createBruteForceDetector({
      state: deps.state,
      bans,
      threshold: config.threshold,
      windowSec: config.windowSec,
      banSec: config.banSec,
      maxBanSec: config.maxBanSec,
      multiplier: config.multiplier,
      now,
      logger,
      ...(deps.audit === undefined ? {} : { audit: deps.audit }),
    });
  }

  const metrics = deps.metrics ?? createMetricsRegistry();
  const gatewayMetrics = createGatewayMetrics(metrics, {
    sharedStateUp: () => deps.state.isUp?.() ?? true,
    bansActive: () => bans.activeCount(),
    reroutes: () =>
      runtime.config.routes
        .filter((route) => route.fallbackUpstream !== undefined)
        .map((route) => [route.id, reroutes.isRerouted(route.id)] as const),
    upstreams: () => runtime.upstreams.values(),
    caches: () => {
      const stats = authenticator?.stats();
      if (stats === undefined) return {};
      return {
        introspection: { hits: stats.introspectionHits, misses: stats.introspectionMisses },
        exchange: { hits: stats.exchangeHits, misses: stats.exchangeMisses },
      };
    },
  });

  const abuse = createAbuseMonitor({
    state: deps.state,
    bans,
    registry: metrics,
    now,
    logger,
    audit: deps.audit,
    windows,
  });
  abuse.apply(runtime.config);

  const topClients = createTopClients({ now });
  // Rebuilt on reload: `auditRequests` is reloadable like the routes.
  let auditRequest = createRequestAuditor(deps.config.auditRequests, deps.audit, logger);

  let listenUrl = '';
  const publicOrigin = (): string => runtime.config.publicUrl?.replace(/\/$/, '') ?? listenUrl;
  const pipelineDeps: Omit<PipelineDeps, 'admit'> = {
    runtime: () => runtime,
    authenticator: () => authenticator,
    limiter,
    bans,
    reroutes,
    recordAuthFailure: (input) => bruteForce?.recordFailure(input) ?? Promise.resolve(),
    metrics: gatewayMetrics,
    topClients,
    accessLog,
    logger,
    publicOrigin,
    observer: () => abuse.observer(),
    auditRequest: (decision) => auditRequest?.(decision),
    now,
  };
  const handler = createRequestHandler(pipelineDeps);

  const limits = deps.config.limits;
  let draining = false;
  const onRequest: RequestListener = (req, res) => {
    if (draining) {
      res.shouldKeepAlive = false;
      // HTTP/2 has no Connection field (RFC 9113 §8.2.2): its connections were sent GOAWAY.
      res.writeHead(503, {
        'content-type': 'application/problem+json',
        'retry-after': '5',
        ...(req.httpVersionMajor === 2 ? {} : { connection: 'close' }),
      });
      res.end(buildProblemResponse({ status: 503, extensions: { code: 'ERR_GATEWAY_SHUTTING_DOWN' } }).body);
      return;
    }
    handler(req, res);
  };
  const httpOptions = {
    // Node's strict llhttp parser (never insecureHTTPParser): it refuses Content-Length with
    // Transfer-Encoding, obfuscated codings, obs-fold and bare CR/LF (RFC 9112 §6.1, §11.2).
    insecureHTTPParser: false,
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requireHostHeader: true,
    // Node enforces headersTimeout/requestTimeout only when it sweeps connections (default every
    // 30 s); sweep often enough that a slowloris client is cut near the configured time.
    connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
    joinDuplicateHeaders: false,
  };
  // External authorization (issue 7): the same pipeline, answering instead of proxying, on a
  // listener of its own. The check carries the original target once more (X-Original-URI).
  let extAuthz: ExtAuthzListener | undefined;
  try {
    extAuthz =
      deps.config.extAuthz === undefined
        ? undefined
        : createExtAuthzListener(
            deps.config.extAuthz.listen,
            { ...httpOptions, maxHeaderSize: limits.maxHeaderBytes + limits.maxUrlLength },
            createExtAuthzHandler({ pipeline: pipelineDeps, logger }),
            {
              baseDir: deps.baseDir,
              handshakeTimeoutMs: limits.headersTimeoutMs,
              logger,
              onCertificate: (info) => gatewayMetrics.certificateLoaded('ext-authz', info),
            },
          );
  } catch (err) {
    // Unusable files of `extAuthz.listen.tls`: release what was opened, then fail the start.
    await releaseAll();
    throw err;
  }
  if (extAuthz !== undefined) extAuthz.server.maxHeadersCount = limits.maxHeaderCount + 8;
  // The listener is fixed at start: `listen` (and so `listen.tls`) is not reloadable, but the
  // certificate files are (watched, and on SIGHUP through reloadCertificates).
  const tlsConfig = deps.config.listen.tls;
  let server: Server | HttpsServer | Http2SecureServer;
  let http2: Http2Listener | undefined;
  let certificates: TlsReloader | undefined;
  try {
    if (tlsConfig === undefined) {
      server = createServer(httpOptions, onRequest);
    } else {
      const tlsOptions = {
        ...loadTlsServerOptions(tlsConfig, deps.baseDir),
        // A client that opens a connection and never finishes the handshake (slowloris one layer
        // down) is cut as one that never finishes its headers, not after Node's default 120 s.
        handshakeTimeout: limits.headersTimeoutMs,
      };
      if (deps.config.listen.http2) {
        http2 = createHttp2Listener(tlsOptions, httpOptions, limits, onRequest, logger);
      }
      const https = http2?.server ?? createHttpsServer({ ...httpOptions, ...tlsOptions }, onRequest);
      attachOcspStapling(https, tlsConfig, deps.baseDir);
      certificates = watchTlsFiles(https, tlsConfig, deps.baseDir, {
        logger,
        onReload: (info) => gatewayMetrics.certificateLoaded('gateway', info),
      });
      server = https;
    }
  } catch (err) {
    // Unusable certificate files: release what was opened, then fail the start.
    await extAuthz?.close(0);
    await releaseAll();
    throw err;
  }
  // HTTP/1.1 as node:http serves it: node:http2's secure server (with allowHTTP1) hands its
  // HTTP/1.1 connections to the same machinery, which reads these members from the server object.
  const http1 = server as Server;
  // One more than the limit, so that the pipeline sees an excess and answers 431 (node silently
  // drops fields beyond maxHeadersCount).
  http1.maxHeadersCount = limits.maxHeaderCount + 1;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // A TLS-layer failure (handshake timeout, alert) has no HTTP to answer with: bytes written to a
    // socket whose handshake never completed would wait there, holding the connection open.
    if (err.code?.startsWith('ERR_TLS_') === true || err.code?.startsWith('ERR_SSL_') === true) {
      socket.destroy();
      return;
    }
    if (socket.writable && !socket.destroyed) {
      socket.end(errorBody(statusOfClientError(err).code));
    } else socket.destroy();
  });
  // CONNECT (a tunnel) is never proxied (RFC 9110 §9.3.6); node hands it to this event, not the
  // handler. Over HTTP/2 it comes with a response object: the pipeline answers it (405) on its stream.
  server.on('connect', (req: IncomingMessage, socket: Socket | ServerResponse) => {
    if (req.httpVersionMajor === 2) onRequest(req, socket as ServerResponse);
    else (socket as Socket).end(errorBody('ERR_GATEWAY_METHOD_NOT_ALLOWED'));
  });
  // An upgrade (WebSocket, h2c) is refused: no route proxies upgrades.
  server.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
    socket.end(errorBody('ERR_GATEWAY_BAD_REQUEST'));
  });
  runtime.start();
  abuse.start();

  const closeRuntimeLater = (old: Runtime): void => {
    void old
      .close()
      .catch((err: unknown) => logger.warn({ err }, 'closing the previous configuration failed'));
  };

  return {
    server,
    bans,
    reroutes,
    metrics,
    topClients,
    detections: () => abuse.detections(),
    alerts: abuse.alerts,
    config: () => runtime.config,
    extAuthzUrl: () => extAuthz?.url(),
    async listen() {
      const { host, port } = runtime.config.listen;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address() as AddressInfo;
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      listenUrl = `${certificates === undefined ? 'http' : 'https'}://${shown}:${address.port}`;
      if (extAuthz !== undefined) {
        const url = await extAuthz.listen();
        logger.info({ url, style: runtime.config.extAuthz?.style }, 'external authorization listening');
      }
      return listenUrl;
    },
    async reload(config) {
      const next = await buildRuntime(config, { baseDir: deps.baseDir, logger, now });
      let nextAuthenticator = authenticator;
      if (
        JSON.stringify(config.auth) !== JSON.stringify(runtime.config.auth) ||
        hasNewAudience(runtime.config, config)
      ) {
        try {
          nextAuthenticator = await openAuthenticator(config, deps);
        } catch (err) {
          await next.close();
          throw err;
        }
      }
      const previous = runtime;
      const previousAuthenticator = authenticator;
      runtime = next;
      auditRequest = createRequestAuditor(config.auditRequests, deps.audit, logger);
      authenticator = nextAuthenticator;
      bruteForce = config.bruteForce.enabled ? buildBruteForce(config.bruteForce) : undefined;
      abuse.apply(config);
      next.start();
      closeRuntimeLater(previous);
      if (previousAuthenticator !== nextAuthenticator) void previousAuthenticator?.close();
      // A route that lost its fallback (or no longer exists) keeps no reroute.
      await reroutes
        .prune()
        .catch((err: unknown) =>
          logger.warn({ err }, 'dropping stale reroutes failed; retried at next reload'),
        );
      logger.info({ routes: config.routes.length }, 'configuration reloaded');
      if (deps.audit !== undefined) {
        emitAuditEvent(
          deps.audit,
          {
            time: new Date(now()).toISOString(),
            action: 'gateway.config.reload',
            outcome: 'success',
            component: 'gateway',
            details: { routes: config.routes.length },
          },
          (err) => logger.warn({ err }, 'audit sink failed'),
        );
      }
    },
    health() {
      return {
        ready: server.listening && !draining,
        draining,
        upstreams: [...runtime.upstreams.values()].map((upstream) => ({
          id: upstream.id,
          targets: upstream
            .health()
            .map((t) => ({ target: t.target, healthy: t.healthy, circuit: t.circuit })),
        })),
      };
    },
    reloadCertificates: async () => {
      // Each listener keeps its certificate, and logs why, when its new files are refused.
      const reloaded = await Promise.all([certificates?.reload(), extAuthz?.reloadCertificates()]);
      return reloaded.every((ok) => ok !== false);
    },
    recordCertificate: (listener, info) => gatewayMetrics.certificateLoaded(listener, info),
    async close(graceMs = 10_000) {
      draining = true;
      const extAuthzClosed = extAuthz?.close(graceMs);
      certificates?.close();
      const closed = new Promise<void>((resolve) => {
        if (!server.listening) resolve();
        else server.close(() => resolve());
      });
      // A request in flight leaves its keep-alive connection idle once answered: keep closing idle
      // connections while draining, so shutdown does not wait for clients to hang up. HTTP/2
      // connections get GOAWAY and close once their last stream is answered.
      http1.closeIdleConnections();
      http2?.drain();
      const sweeper = setInterval(() => http1.closeIdleConnections(), 50);
      sweeper.unref();
      const timer = setTimeout(() => {
        // node:http2's server tracks its HTTP/1.1 connections as node:http's does, without the method.
        HttpServer.prototype.closeAllConnections.call(http1);
        http2?.destroyAll();
      }, graceMs);
      timer.unref();
      await closed;
      await extAuthzClosed;
      clearInterval(sweeper);
      clearTimeout(timer);
      abuse.close();
      await releaseAll();
    },
  };
}

function hasNewAudience(previous: GatewayConfig, next: GatewayConfig): boolean {
  const before = new Set(previous.routes.map((route) => route.audience));
  return next.routes.some((route) => !before.has(route.audience));
}

import { registerCertificateExpiryGauge, type CertificateInfo, type MetricsRegistry } from '@gatehouse/core';
import type { Upstream } from '../upstream/index.js';

/** The gateway's Prometheus series. Labels are route ids, methods and statuses: bounded sets. */
export interface GatewayMetrics {
  observeRequest(
    route: string,
    method: string,
    status: number,
    gatewaySec: number,
    upstreamSec: number | undefined,
  ): void;
  authFailure(reason: string): void;
  rateLimited(route: string): void;
  /** The certificate a TLS listener (`gateway`, `admin`) serves now: on start and on each reload. */
  certificateLoaded(listener: string, info: CertificateInfo): void;
}

export interface GatewayMetricSources {
  /** Whether the shared state (Redis) is reachable with its subscriptions (`SharedState.isUp`). */
  readonly sharedStateUp: () => boolean;
  readonly bansActive: () => number;
  /** Routes with a `fallbackUpstream`, and whether an alert reroutes them now. */
  readonly reroutes: () => Iterable<readonly [route: string, rerouted: boolean]>;
  readonly upstreams: () => Iterable<Upstream>;
  readonly caches: () => Readonly<Record<string, { hits: number; misses: number }>>;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const CIRCUIT_STATES = { closed: 0, 'half-open': 1, open: 2 } as const;

// Request durations are sub-millisecond at the gateway and up to seconds upstream.
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createGatewayMetrics(
  registry: MetricsRegistry,
  sources: GatewayMetricSources,
): GatewayMetrics {
  const requests = registry.counter({
    name: 'gatehouse_requests_total',
    help: 'Requests answered by the gateway, by route id, method and status code',
    labelNames: ['route', 'method', 'code'],
  });
  const duration = registry.histogram({
    name: 'gatehouse_request_duration_seconds',
    help: 'Request duration split into the time spent in the gateway and waiting for the upstream',
    labelNames: ['route', 'phase'],
    buckets: DURATION_BUCKETS,
  });
  const authFailures = registry.counter({
    name: 'gatehouse_auth_failures_total',
    help: 'Requests refused for a missing, invalid, expired, revoked or unverifiable token, by reason',
    labelNames: ['reason'],
  });
  const rateLimited = registry.counter({
    name: 'gatehouse_rate_limited_total',
    help: 'Requests refused by a rate limit, by route id',
    labelNames: ['route'],
  });
  // Shared with the auth server: one definition, one alert rule.
  const recordCertificate = registerCertificateExpiryGauge(registry);
  registry.gauge({
    name: 'gatehouse_shared_state_up',
    help:
      'Whether the shared state (Redis) is reachable (1) or not (0); while 0, rate limits follow ' +
      'onStoreFailure and revocations are read from the database',
    labelNames: ['component'],
    collect(gauge) {
      gauge.set(['gateway'], sources.sharedStateUp() ? 1 : 0);
    },
  });
  registry.gauge({
    name: 'gatehouse_bans_active',
    help: 'Client addresses currently banned',
    collect(gauge) {
      gauge.set([], sources.bansActive());
    },
  });
  registry.gauge({
    name: 'gatehouse_gateway_reroutes_active',
    help: 'Whether an alert reroutes a route to its fallback upstream (1) or not (0), per route with a fallbackUpstream',
    labelNames: ['route'],
    collect(gauge) {
      // Afresh on each scrape: a route removed by a reload leaves no stale series.
      gauge.reset();
      for (const [route, rerouted] of sources.reroutes()) gauge.set([route], rerouted ? 1 : 0);
    },
  });
  registry.gauge({
    name: 'gatehouse_upstream_healthy',
    help: 'Whether an upstream target passes its health checks (1) or not (0)',
    labelNames: ['upstream', 'target'],
    collect(gauge) {
      for (const upstream of sources.upstreams())
        for (const target of upstream.health())
          gauge.set([upstream.id, target.target], target.healthy ? 1 : 0);
    },
  });
  registry.gauge({
    name: 'gatehouse_upstream_circuit_state',
    help: 'Circuit breaker state of an upstream target: 0 closed, 1 half-open, 2 open',
    labelNames: ['upstream', 'target'],
    collect(gauge) {
      for (const upstream of sources.upstreams())
        for (const target of upstream.health())
          gauge.set([upstream.id, target.target], CIRCUIT_STATES[target.circuit]);
    },
  });
  registry.gauge({
    name: 'gatehouse_cache_hit_ratio',
    help: 'Hit ratio of the gateway caches since start (introspection, token exchange, verification)',
    labelNames: ['cache'],
    collect(gauge) {
      for (const [cache, { hits, misses }] of Object.entries(sources.caches()))
        gauge.set([cache], hits + misses === 0 ? 0 : hits / (hits + misses));
    },
  });

  // Bound series handles, looked up without building label strings on the hot path.
  type Child = { inc(by?: number): void };
  const requestChildren = new Map<string, Map<string, Map<number, Child>>>();
  const durationChildren = new Map<
    string,
    { gateway: { observe(v: number): void }; upstream: { observe(v: number): void } }
  >();

  return {
    observeRequest(route, method, status, gatewaySec, upstreamSec) {
      const verb = METHODS.has(method) ? method : 'OTHER';
      let byMethod = requestChildren.get(route);
      if (byMethod === undefined)
        requestChildren.set(route, (byMethod = new Map<string, Map<number, Child>>()));
      let byStatus = byMethod.get(verb);
      if (byStatus === undefined) byMethod.set(verb, (byStatus = new Map<number, Child>()));
      let child = byStatus.get(status);
      if (child === undefined) byStatus.set(status, (child = requests.child([route, verb, String(status)])));
      child.inc();
      let phases = durationChildren.get(route);
      if (phases === undefined) {
        phases = {
          gateway: duration.child([route, 'gateway']),
          upstream: duration.child([route, 'upstream']),
        };
        durationChildren.set(route, phases);
      }
      phases.gateway.observe(gatewaySec);
      if (upstreamSec !== undefined) phases.upstream.observe(upstreamSec);
    },
    authFailure(reason) {
      authFailures.inc([reason]);
    },
    rateLimited(route) {
      rateLimited.inc([route]);
    },
    certificateLoaded: recordCertificate,
  };
}

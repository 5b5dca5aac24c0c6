export { createUpstream, type UpstreamDeps } from './create-upstream.js';
export { rewriteLocation, type LocationMapping } from './rewrite-location.js';
export type {
  CircuitBreakerOptions,
  CircuitState,
  HealthCheckOptions,
  TargetHealth,
  Upstream,
  UpstreamOptions,
  UpstreamRequest,
  UpstreamResponse,
  UpstreamTlsOptions,
} from './upstream.js';

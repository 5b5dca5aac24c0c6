import { fileURLToPath } from 'node:url';

/** Where the series of the `/metrics` endpoints are defined (`name: 'gatehouse_…'`). */
export const METRIC_DEFINITIONS = [
  'packages/gateway/src/observability/gateway-metrics.ts',
  'packages/gateway/src/detect/detection-metrics.ts',
  'packages/auth-server/src/observability/auth-server-metrics.ts',
  'packages/auth-server/src/observability/signing-keys-gauge.ts',
  'packages/audit/src/sinks/metrics/register-sink-metrics.ts',
  // Shared by the gateway and the auth server.
  'packages/core/src/metrics/register-certificate-expiry-gauge.ts',
].map((path) => fileURLToPath(new URL(`../../${path}`, import.meta.url)));

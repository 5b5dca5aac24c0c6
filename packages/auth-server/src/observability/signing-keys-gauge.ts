import type { MetricsRegistry } from '@gatehouse/core';
import type { KeyService } from '../keys/key-service.js';

/**
 * Adds `gatehouse_auth_signing_keys{state}`: the keys in each lifecycle state as this instance
 * last loaded them (at start, every `keys.checkIntervalSec` and at every transition), read at
 * scrape time. Every state is shown, at 0 when empty, so `== 0` on `active` can be alerted on.
 */
export function registerSigningKeysGauge(
  registry: MetricsRegistry,
  keys: Pick<KeyService, 'statusCounts'>,
): void {
  registry.gauge({
    name: 'gatehouse_auth_signing_keys',
    help: 'Signing keys by lifecycle state (pending, active, retiring, retired, revoked)',
    labelNames: ['state'],
    collect(gauge) {
      for (const [state, count] of Object.entries(keys.statusCounts())) gauge.set([state], count);
    },
  });
}

import type { DetectionConfig } from '../config/detection-schema.js';
import { createDistinctWindowCounter } from './distinct-window-counter.js';
import type { Detector } from './types.js';

/**
 * Rate-limit evasion: per-IP limits dodged by spreading one token over many addresses (a leaked or
 * shared token, a rotating proxy pool), and per-token limits dodged by rotating many tokens from
 * one address. A ban for the first covers every address the token was seen from in the window.
 */
export function createRateLimitEvasionDetector(
  config: DetectionConfig['rateLimitEvasion'],
  limits: { readonly maxKeys: number; readonly maxValues: number },
): Detector {
  const windowMs = config.windowSec * 1000;
  const { ipsPerIdentity, identitiesPerIp } = config;
  const ipsOf =
    ipsPerIdentity === 0
      ? undefined
      : createDistinctWindowCounter({ windowMs, limit: ipsPerIdentity, ...limits });
  const identitiesOf =
    identitiesPerIp === 0
      ? undefined
      : createDistinctWindowCounter({ windowMs, limit: identitiesPerIp, ...limits });

  return {
    observe(outcome, keys, report) {
      const identity = keys.of(config.identity);
      if (identity === undefined) return;
      const { clientIp: ip, time: t } = outcome;
      if (ipsOf !== undefined) {
        const count = ipsOf.add(identity, ip, t);
        if (count >= ipsPerIdentity) {
          const ips = ipsOf.values(identity, t);
          ipsOf.delete(identity);
          report({
            detector: 'rate-limit-evasion',
            trigger: 'identity_ips',
            key: keys.label(config.identity),
            count,
            threshold: ipsPerIdentity,
            windowSec: config.windowSec,
            outcome,
            ips,
          });
        }
      }
      if (identitiesOf !== undefined) {
        const count = identitiesOf.add(ip, identity, t);
        if (count >= identitiesPerIp) {
          identitiesOf.delete(ip);
          report({
            detector: 'rate-limit-evasion',
            trigger: 'ip_identities',
            key: `ip:${ip}`,
            count,
            threshold: identitiesPerIp,
            windowSec: config.windowSec,
            outcome,
          });
        }
      }
    },
  };
}

import type { DetectionConfig } from '../config/detection-schema.js';
import { labelKey, type Detector, type Finding, type RequestOutcome } from './types.js';
import { isCrossing, type Crossing, type DetectorWindows } from './window-store.js';

/**
 * Rate-limit evasion: per-IP limits dodged by spreading one token over many addresses (a leaked or
 * shared token, a rotating proxy pool), and per-token limits dodged by rotating many tokens from
 * one address. A ban for the first covers every address the token was seen from in the window.
 */
export function createRateLimitEvasionDetector(
  config: DetectionConfig['rateLimitEvasion'],
  windows: DetectorWindows,
): Detector {
  const windowMs = config.windowSec * 1000;
  const { ipsPerIdentity, identitiesPerIp } = config;
  const ipsOf =
    ipsPerIdentity === 0
      ? undefined
      : windows.distinct({
          name: 'ips',
          windowMs,
          limit: ipsPerIdentity,
          threshold: ipsPerIdentity,
          // Client addresses as the pipeline parsed them: a crossing names them for the ban.
          values: 'plain',
          keepValues: true,
        });
  const identitiesOf =
    identitiesPerIp === 0
      ? undefined
      : windows.distinct({
          name: 'identities',
          windowMs,
          limit: identitiesPerIp,
          threshold: identitiesPerIp,
          values: 'digest',
        });

  const onIps = (result: number | Crossing, outcome: RequestOutcome, report: (f: Finding) => void): void => {
    if (!isCrossing(result)) return;
    report({
      detector: 'rate-limit-evasion',
      trigger: 'identity_ips',
      key: labelKey(config.identity, outcome),
      count: result.count,
      threshold: ipsPerIdentity,
      windowSec: config.windowSec,
      outcome,
      ips: result.values,
    });
  };
  const onIdentities = (
    result: number | Crossing,
    outcome: RequestOutcome,
    report: (f: Finding) => void,
  ): void => {
    if (!isCrossing(result)) return;
    report({
      detector: 'rate-limit-evasion',
      trigger: 'ip_identities',
      key: `ip:${outcome.clientNet}`,
      count: result.count,
      threshold: identitiesPerIp,
      windowSec: config.windowSec,
      outcome,
    });
  };

  return {
    observe(outcome, keys, report) {
      const identity = keys.of(config.identity);
      if (identity === undefined) return;
      const { clientNet: ip, time: t } = outcome;
      if (ipsOf !== undefined) {
        const result = ipsOf.add(identity, ip, t);
        if (result instanceof Promise) result.then((r) => onIps(r, outcome, report)).catch(windows.fail);
        else onIps(result, outcome, report);
      }
      if (identitiesOf !== undefined) {
        const result = identitiesOf.add(ip, identity, t);
        if (result instanceof Promise)
          result.then((r) => onIdentities(r, outcome, report)).catch(windows.fail);
        else onIdentities(result, outcome, report);
      }
    },
  };
}

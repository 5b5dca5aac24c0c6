import type { MetricsRegistry } from '@gatehouse/core';
import { DETECTOR_IDS, type DetectorAction, type DetectorId } from './types.js';

export interface DetectionMetrics {
  detected(detector: DetectorId, action: DetectorAction): void;
  /** One observation counted in this instance's memory because the shared window store failed. */
  fellBack(detector: DetectorId): void;
}

export interface DetectionMetricSources {
  /** Firing alerts by rule id, every known rule present (0 when quiet). */
  readonly alertsFiring: () => ReadonlyMap<string, number>;
}

/**
 * `gatehouse_gateway_detections_total{detector,action}`, `gatehouse_gateway_alerts_firing{rule}` and
 * `gatehouse_gateway_detection_fallbacks_total{detector}`.
 * Registered once per gateway: detectors and rules are rebuilt on reload, their series stay.
 */
export function createDetectionMetrics(
  registry: MetricsRegistry,
  sources: DetectionMetricSources,
): DetectionMetrics {
  const detections = registry.counter({
    name: 'gatehouse_gateway_detections_total',
    help: 'Abuse detections by detector and the action taken (ban, flag, log)',
    labelNames: ['detector', 'action'],
  });
  // Every series from the start: a rate() over a counter that appears at its first increment misses it.
  for (const detector of DETECTOR_IDS)
    for (const action of ['ban', 'flag', 'log'] as const) detections.inc([detector, action], 0);
  const fallbacks = registry.counter({
    name: 'gatehouse_gateway_detection_fallbacks_total',
    help:
      'Observations a detector counted in this instance only because its shared window store (Redis) ' +
      'failed (detection.store: redis)',
    labelNames: ['detector'],
  });
  for (const detector of DETECTOR_IDS) fallbacks.inc([detector], 0);
  registry.gauge({
    name: 'gatehouse_gateway_alerts_firing',
    help: 'Alerts firing now, by rule id (per-route and per-IP rules count each scope that fires)',
    labelNames: ['rule'],
    collect(gauge) {
      gauge.reset();
      for (const [rule, firing] of sources.alertsFiring()) gauge.set([rule], firing);
    },
  });
  return {
    detected(detector, action) {
      detections.inc([detector, action]);
    },
    fellBack(detector) {
      fallbacks.inc([detector]);
    },
  };
}

import type { DetectionConfig } from '../config/detection-schema.js';
import { createSlidingWindowCounter } from './sliding-window-counter.js';
import type { Detector } from './types.js';

/** Fuzzing and path probing: a burst of 400/404/405 answers and validation failures from one client. */
export function createFuzzingDetector(
  config: DetectionConfig['fuzzing'],
  limits: { readonly maxKeys: number },
): Detector {
  const windowMs = config.windowSec * 1000;
  const counted = new Uint8Array(600);
  for (const status of config.statuses) counted[status] = 1;
  // Ten buckets: the window slides in tenths.
  const errors = createSlidingWindowCounter({
    spanMs: windowMs,
    bucketMs: windowMs / 10,
    maxKeys: limits.maxKeys,
  });

  return {
    observe(outcome, keys, report) {
      if (counted[outcome.status] !== 1 && !outcome.validationFailed) return;
      const key = keys.of(config.key);
      if (key === undefined) return;
      const count = errors.add(key, outcome.time);
      if (count < config.threshold) return;
      errors.delete(key);
      report({
        detector: 'fuzzing',
        trigger: 'errors',
        key: keys.label(config.key),
        count,
        threshold: config.threshold,
        windowSec: config.windowSec,
        outcome,
      });
    },
  };
}

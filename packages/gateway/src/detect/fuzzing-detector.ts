import type { DetectionConfig } from '../config/detection-schema.js';
import { labelKey, type Detector, type Finding, type RequestOutcome } from './types.js';
import { isCrossing, type Crossing, type DetectorWindows } from './window-store.js';

/** Fuzzing and path probing: a burst of 400/404/405 answers and validation failures from one client. */
export function createFuzzingDetector(
  config: DetectionConfig['fuzzing'],
  windows: DetectorWindows,
): Detector {
  const counted = new Uint8Array(600);
  for (const status of config.statuses) counted[status] = 1;
  // Ten buckets: the window slides in tenths.
  const errors = windows.counter({
    name: 'errors',
    windowMs: config.windowSec * 1000,
    buckets: 10,
    threshold: config.threshold,
  });

  const onCount = (
    result: number | Crossing,
    outcome: RequestOutcome,
    report: (finding: Finding) => void,
  ): void => {
    if (!isCrossing(result)) return;
    report({
      detector: 'fuzzing',
      trigger: 'errors',
      key: labelKey(config.key, outcome),
      count: result.count,
      threshold: config.threshold,
      windowSec: config.windowSec,
      outcome,
    });
  };

  return {
    observe(outcome, keys, report) {
      if (counted[outcome.status] !== 1 && !outcome.validationFailed) return;
      const key = keys.of(config.key);
      if (key === undefined) return;
      const result = errors.add(key, outcome.time);
      if (result instanceof Promise) result.then((r) => onCount(r, outcome, report)).catch(windows.fail);
      else onCount(result, outcome, report);
    },
  };
}

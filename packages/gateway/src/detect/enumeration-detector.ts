import type { DetectionConfig } from '../config/detection-schema.js';
import { extractObjectId, requestNumericId } from './object-id.js';
import { labelKey, type Detector, type Finding, type RequestOutcome } from './types.js';
import { isCrossing, type Crossing, type DetectorWindows } from './window-store.js';

/**
 * BOLA / IDOR scraping (OWASP API1:2023): one actor answered 403/404 on many distinct object ids,
 * or walking consecutive numeric ids (n, n+1, n+2… or down), whatever the answers — a successful
 * walk is what a missing object-level check lets through.
 */
export function createEnumerationDetector(
  config: DetectionConfig['enumeration'],
  windows: DetectorWindows,
): Detector {
  const windowMs = config.windowSec * 1000;
  const denied = windows.distinct({
    name: 'ids',
    windowMs,
    limit: config.distinctIds,
    threshold: config.distinctIds,
    values: 'digest',
  });
  const sequentialRun = config.sequentialRun;
  const walks =
    sequentialRun === 0 ? undefined : windows.walk({ name: 'walk', windowMs, run: sequentialRun });

  // Named functions rather than closures per request: the memory path allocates nothing more.
  const onDenied = (
    result: number | Crossing,
    key: string,
    outcome: RequestOutcome,
    report: (finding: Finding) => void,
  ): boolean => {
    if (!isCrossing(result)) return false;
    walks?.delete(key);
    report({
      detector: 'enumeration',
      trigger: 'distinct_ids',
      key: labelKey(config.key, outcome),
      count: result.count,
      threshold: config.distinctIds,
      windowSec: config.windowSec,
      outcome,
    });
    return true;
  };
  const onWalk = (run: number, outcome: RequestOutcome, report: (finding: Finding) => void): void => {
    if (run === 0) return;
    report({
      detector: 'enumeration',
      trigger: 'sequential_ids',
      key: labelKey(config.key, outcome),
      count: run,
      threshold: sequentialRun,
      windowSec: config.windowSec,
      outcome,
    });
  };

  return {
    observe(outcome, keys, report) {
      const { path, status } = outcome;
      if (path === undefined || outcome.route === '_unmatched') return;
      const refused = status === 403 || status === 404;
      if (!refused && walks === undefined) return;
      const t = outcome.time;

      if (refused) {
        const id = extractObjectId(path, outcome.params);
        if (id === undefined) return;
        const key = keys.of(config.key);
        if (key === undefined) return;
        const added = denied.add(key, `${outcome.route} ${id}`, t);
        if (added instanceof Promise) {
          // Shared windows: the walk below is recorded now, in the order requests finish; a
          // crossing found meanwhile forgets the walk as in memory.
          added.then((result) => onDenied(result, key, outcome, report)).catch(windows.fail);
        } else if (onDenied(added, key, outcome, report)) return;
      }

      if (walks === undefined) return;
      const n = requestNumericId(path, outcome.params);
      if (n === undefined) return;
      const key = keys.of(config.key);
      if (key === undefined) return;
      const run = walks.step(key, n, t);
      if (run instanceof Promise) run.then((r) => onWalk(r, outcome, report)).catch(windows.fail);
      else onWalk(run, outcome, report);
    },
  };
}

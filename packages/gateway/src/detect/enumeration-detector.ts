import type { DetectionConfig } from '../config/detection-schema.js';
import { createBoundedMap } from './bounded-map.js';
import { createDistinctWindowCounter } from './distinct-window-counter.js';
import { extractObjectId, requestNumericId } from './object-id.js';
import type { Detector } from './types.js';

interface Walk {
  last: number;
  /** +1 or -1 once two ids in a row were consecutive; 0 before. */
  step: number;
  run: number;
  startedAt: number;
}

/**
 * BOLA / IDOR scraping (OWASP API1:2023): one actor answered 403/404 on many distinct object ids,
 * or walking consecutive numeric ids (n, n+1, n+2… or down), whatever the answers — a successful
 * walk is what a missing object-level check lets through.
 */
export function createEnumerationDetector(
  config: DetectionConfig['enumeration'],
  limits: { readonly maxKeys: number; readonly maxValues: number },
): Detector {
  const windowMs = config.windowSec * 1000;
  const denied = createDistinctWindowCounter({
    windowMs,
    limit: config.distinctIds,
    maxKeys: limits.maxKeys,
    maxValues: limits.maxValues,
  });
  const walks = createBoundedMap<Walk>({ maxKeys: limits.maxKeys, touchMs: windowMs / 16 });
  const sequentialRun = config.sequentialRun;

  return {
    observe(outcome, keys, report) {
      const { path, status } = outcome;
      if (path === undefined || outcome.route === '_unmatched') return;
      const refused = status === 403 || status === 404;
      if (!refused && sequentialRun === 0) return;
      const t = outcome.time;

      if (refused) {
        const id = extractObjectId(path, outcome.params);
        if (id === undefined) return;
        const key = keys.of(config.key);
        if (key === undefined) return;
        const count = denied.add(key, `${outcome.route} ${id}`, t);
        if (count >= config.distinctIds) {
          denied.delete(key);
          walks.delete(key);
          report({
            detector: 'enumeration',
            trigger: 'distinct_ids',
            key: keys.label(config.key),
            count,
            threshold: config.distinctIds,
            windowSec: config.windowSec,
            outcome,
          });
          return;
        }
      }

      if (sequentialRun === 0) return;
      const n = requestNumericId(path, outcome.params);
      if (n === undefined) return;
      const key = keys.of(config.key);
      if (key === undefined) return;
      const walk = walks.get(key, t);
      if (walk === undefined) {
        walks.set(key, { last: n, step: 0, run: 1, startedAt: t }, t);
        return;
      }
      const step = n - walk.last;
      if (step === 0) return;
      if (
        t - walk.startedAt > windowMs ||
        (step !== 1 && step !== -1) ||
        (walk.step !== 0 && step !== walk.step)
      ) {
        walk.step = 0;
        walk.run = 1;
        walk.startedAt = t;
      } else {
        walk.step = step;
        walk.run++;
      }
      walk.last = n;
      if (walk.run >= sequentialRun) {
        walks.delete(key);
        report({
          detector: 'enumeration',
          trigger: 'sequential_ids',
          key: keys.label(config.key),
          count: walk.run,
          threshold: sequentialRun,
          windowSec: config.windowSec,
          outcome,
        });
      }
    },
  };
}

import type { DetectionConfig } from '../config/detection-schema.js';
import { createDistinctWindowCounter } from './distinct-window-counter.js';
import type { Detector } from './types.js';

/** The median is recomputed at most this often (only keys at the threshold ask for it). */
const MEDIAN_TTL_MS = 1000;
/** With a baseline, counting goes on past the threshold up to this multiple of it, to be compared. */
const BASELINE_HEADROOM = 10;

/**
 * Bulk scraping: one token reading more distinct resources (canonical paths answered 2xx/3xx) in
 * the window than `distinctPaths`, and — with `baselineFactor` — more than that many times the
 * median of the other active keys, so that a busy day for everyone is not an attack by one.
 * Counts are capped (at the threshold, or 10× it with a baseline): a key whose median bar lies
 * beyond 10× the threshold is not flagged.
 */
export function createBulkScrapingDetector(
  config: DetectionConfig['bulkScraping'],
  limits: { readonly maxKeys: number; readonly maxValues: number },
): Detector {
  const windowMs = config.windowSec * 1000;
  const paths = createDistinctWindowCounter({
    windowMs,
    limit: config.baselineFactor > 0 ? config.distinctPaths * BASELINE_HEADROOM : config.distinctPaths,
    maxKeys: limits.maxKeys,
    maxValues: limits.maxValues,
  });
  let median: { value: number; peers: number; at: number } | undefined;

  /** The median distinct-path count of the other keys with any (0 peers: no baseline). */
  const medianOfOthers = (self: string, t: number): { value: number; peers: number } => {
    if (median !== undefined && t - median.at < MEDIAN_TTL_MS) return median;
    const counts: number[] = [];
    for (const key of paths.keys()) {
      if (key === self) continue;
      const count = paths.count(key, t);
      if (count > 0) counts.push(count);
    }
    counts.sort((a, b) => a - b);
    const middle = counts.length >> 1;
    const value =
      counts.length === 0
        ? 0
        : counts.length % 2 === 1
          ? (counts[middle] as number)
          : ((counts[middle - 1] as number) + (counts[middle] as number)) / 2;
    median = { value, peers: counts.length, at: t };
    return median;
  };

  return {
    observe(outcome, keys, report) {
      const { status, path } = outcome;
      if (status < 200 || status >= 400 || path === undefined) return;
      const key = keys.of(config.key);
      if (key === undefined) return;
      const t = outcome.time;
      const count = paths.add(key, path, t);
      if (count < config.distinctPaths) return;
      if (config.baselineFactor > 0) {
        const baseline = medianOfOthers(key, t);
        if (baseline.peers >= config.minPeers && count <= config.baselineFactor * baseline.value) return;
      }
      paths.delete(key);
      report({
        detector: 'bulk-scraping',
        trigger: 'distinct_paths',
        key: keys.label(config.key),
        count,
        threshold: config.distinctPaths,
        windowSec: config.windowSec,
        outcome,
      });
    },
  };
}

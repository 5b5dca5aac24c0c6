import type { DetectionConfig } from '../config/detection-schema.js';
import { labelKey, type Detector, type Finding, type RequestOutcome } from './types.js';
import { isCrossing, type Crossing, type DetectorWindows } from './window-store.js';

/** The median is recomputed at most this often (only keys at the threshold ask for it). */
const MEDIAN_TTL_MS = 1000;
/** With a baseline, counting goes on past the threshold up to this multiple of it, to be compared. */
const BASELINE_HEADROOM = 10;

/**
 * Bulk scraping: one token reading more distinct resources (canonical paths answered 2xx/3xx) in
 * the window than `distinctPaths`, and — with `baselineFactor` — more than that many times the
 * median of the other active keys, so that a busy day for everyone is not an attack by one.
 * Counts are capped (at the threshold, or 10× it with a baseline): a key whose median bar lies
 * beyond 10× the threshold is not flagged. With shared windows the counts are shared; the median
 * is over the keys this instance saw, at the shared count it last read for each.
 */
export function createBulkScrapingDetector(
  config: DetectionConfig['bulkScraping'],
  windows: DetectorWindows,
): Detector {
  const withBaseline = config.baselineFactor > 0;
  const paths = windows.distinct({
    name: 'paths',
    windowMs: config.windowSec * 1000,
    limit: withBaseline ? config.distinctPaths * BASELINE_HEADROOM : config.distinctPaths,
    // Without a baseline the threshold is the whole decision, taken in the window's atomic step.
    threshold: withBaseline ? undefined : config.distinctPaths,
    values: 'digest',
  });
  let median: { value: number; peers: number; at: number } | undefined;

  /** The median distinct-path count of the other keys with any (0 peers: no baseline). */
  const medianOfOthers = (self: string, t: number): { value: number; peers: number } => {
    if (median !== undefined && t - median.at < MEDIAN_TTL_MS) return median;
    const counts: number[] = [];
    for (const [key, count] of paths.counts(t)) if (key !== self) counts.push(count);
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

  const found = (count: number, outcome: RequestOutcome): Finding => ({
    detector: 'bulk-scraping',
    trigger: 'distinct_paths',
    key: labelKey(config.key, outcome),
    count,
    threshold: config.distinctPaths,
    windowSec: config.windowSec,
    outcome,
  });

  const onCount = (
    result: number | Crossing,
    key: string,
    outcome: RequestOutcome,
    report: (finding: Finding) => void,
  ): void => {
    if (isCrossing(result)) {
      report(found(result.count, outcome));
      return;
    }
    if (!withBaseline || result < config.distinctPaths) return;
    const t = outcome.time;
    const baseline = medianOfOthers(key, t);
    if (baseline.peers >= config.minPeers && result <= config.baselineFactor * baseline.value) return;
    // Over the bar: one instance takes the key's window and reports.
    const taken = paths.take(key, config.distinctPaths, t);
    if (taken instanceof Promise) {
      taken
        .then((took) => {
          if (took) report(found(result, outcome));
        })
        .catch(windows.fail);
    } else if (taken) report(found(result, outcome));
  };

  return {
    observe(outcome, keys, report) {
      const { status, path } = outcome;
      if (status < 200 || status >= 400 || path === undefined) return;
      const key = keys.of(config.key);
      if (key === undefined) return;
      const result = paths.add(key, path, outcome.time);
      if (result instanceof Promise) result.then((r) => onCount(r, key, outcome, report)).catch(windows.fail);
      else onCount(result, key, outcome, report);
    },
  };
}

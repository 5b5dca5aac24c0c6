import type { MetricType } from './exposition.js';
import type { MetricDefinition } from './metric-types.js';

// Prometheus data model: https://prometheus.io/docs/concepts/data_model/#metric-names-and-labels
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const DEFAULT_MAX_SERIES = 1000;

/** A definition checked and completed when the metric is defined, never per sample. */
export interface ResolvedDefinition {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly maxSeries: number;
}

export function isMetricName(name: string): boolean {
  return METRIC_NAME.test(name);
}

/**
 * Checks a definition against the data model and the naming rules `promtool check metrics` enforces
 * (a counter ends in `_total`, nothing else does). Throws a TypeError/RangeError naming the problem.
 */
export function resolveMetricDefinition(
  def: MetricDefinition,
  type: MetricType,
  prefix: string,
): ResolvedDefinition {
  const name = prefix + def.name;
  if (!METRIC_NAME.test(name))
    throw new TypeError(`metric name ${JSON.stringify(name)}: not [a-zA-Z_:][a-zA-Z0-9_:]*`);
  if ((type === 'counter') !== name.endsWith('_total')) {
    throw new TypeError(
      type === 'counter'
        ? `metric ${name}: a counter's name ends in _total`
        : `metric ${name}: only a counter's name ends in _total`,
    );
  }
  if (def.help.trim() === '') throw new TypeError(`metric ${name}: help is empty`);
  const labelNames = [...(def.labelNames ?? [])];
  const seen = new Set<string>();
  for (const label of labelNames) {
    if (!LABEL_NAME.test(label))
      throw new TypeError(
        `metric ${name}: label name ${JSON.stringify(label)} is not [a-zA-Z_][a-zA-Z0-9_]*`,
      );
    if (label.startsWith('__'))
      throw new TypeError(`metric ${name}: label names starting with __ are reserved`);
    // `le` carries a histogram's bucket bound; disallowed everywhere so a metric can become a histogram.
    if (label === 'le')
      throw new TypeError(`metric ${name}: label name le is reserved for histogram buckets`);
    if (seen.has(label)) throw new TypeError(`metric ${name}: label ${label} given twice`);
    seen.add(label);
  }
  const maxSeries = def.maxSeries ?? DEFAULT_MAX_SERIES;
  if (!Number.isSafeInteger(maxSeries) || maxSeries < 1)
    throw new RangeError(`metric ${name}: maxSeries is a positive integer`);
  return { name, help: def.help, labelNames: Object.freeze(labelNames), maxSeries };
}

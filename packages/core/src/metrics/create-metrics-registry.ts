import { defineCounter } from './counter.js';
import { EXPOSITION_CONTENT_TYPE, type MetricFamily } from './exposition.js';
import { defineGauge } from './gauge.js';
import { defineHistogram } from './histogram.js';
import { isMetricName, resolveMetricDefinition } from './metric-definition.js';
import type { CounterChild, MetricsRegistry, MetricsRegistryOptions } from './metric-types.js';

/** Goes up each time a new label combination is folded into a metric's `__other__` series. */
export const SERIES_DROPPED_METRIC = 'gatehouse_metrics_series_dropped_total';

/** How code inside this folder adds a family the public API cannot express (process metrics). */
const familyRegistrars = new WeakMap<MetricsRegistry, (family: MetricFamily) => void>();

/**
 * Adds `family` to a registry made by createMetricsRegistry, under exactly the names it gives (no
 * prefix: standard names such as `process_cpu_seconds_total` stay standard).
 */
export function registerMetricFamily(registry: MetricsRegistry, family: MetricFamily): void {
  const register = familyRegistrars.get(registry);
  if (register === undefined) throw new TypeError('not a registry made by createMetricsRegistry');
  register(family);
}

/**
 * A set of metrics rendered together for one `/metrics` endpoint. Names, label names and buckets are
 * checked here, when each metric is defined; the per-sample path only adds numbers.
 */
export function createMetricsRegistry(options: MetricsRegistryOptions = {}): MetricsRegistry {
  const prefix = options.prefix ?? '';
  if (prefix !== '' && !isMetricName(prefix))
    throw new TypeError(`metrics prefix ${JSON.stringify(prefix)}: not [a-zA-Z_:][a-zA-Z0-9_:]*`);

  const families: MetricFamily[] = [];
  const sampleNames = new Set<string>();
  const claim = (family: MetricFamily): void => {
    const taken = family.sampleNames.find((name) => sampleNames.has(name));
    if (taken !== undefined) throw new TypeError(`metric ${taken} is already defined in this registry`);
    for (const name of family.sampleNames) sampleNames.add(name);
  };
  const register = (family: MetricFamily): void => {
    claim(family);
    families.push(family);
  };

  const droppedChildren = new Map<string, CounterChild>();
  const dropped = defineCounter(
    {
      name: SERIES_DROPPED_METRIC,
      help: "Label combinations folded into a metric's __other__ series because it reached its maxSeries.",
      labelNames: ['metric'],
      // One series per metric of this registry: bounded by the code, never by input.
      maxSeries: Number.MAX_SAFE_INTEGER,
    },
    recordDrop,
  );
  claim(dropped.family);
  function recordDrop(metric: string): void {
    let child = droppedChildren.get(metric);
    if (child === undefined) {
      child = dropped.metric.child([metric]);
      droppedChildren.set(metric, child);
    }
    child.inc();
  }

  const registry: MetricsRegistry = {
    contentType: EXPOSITION_CONTENT_TYPE,
    counter: (def) => {
      const { metric, family } = defineCounter(resolveMetricDefinition(def, 'counter', prefix), recordDrop);
      register(family);
      return metric;
    },
    gauge: (def) => {
      const { metric, family } = defineGauge(
        resolveMetricDefinition(def, 'gauge', prefix),
        recordDrop,
        def.collect,
      );
      register(family);
      return metric;
    },
    histogram: (def) => {
      const resolved = resolveMetricDefinition(def, 'histogram', prefix);
      const { metric, family } = defineHistogram(resolved, recordDrop, def.buckets);
      register(family);
      return metric;
    },
    render: () => {
      let text = '';
      for (const family of families) text += family.render();
      // Last, so that the folding the scrape just showed is already counted.
      return text + dropped.family.render();
    },
  };
  familyRegistrars.set(registry, register);
  return registry;
}

import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { buildFamilyHeader, formatSampleValue, type MetricFamily, type MetricType } from './exposition.js';
import type { MetricsRegistry } from './metric-types.js';
import { registerMetricFamily } from './create-metrics-registry.js';

export interface ProcessMetricsOptions {
  /**
   * Adds `nodejs_eventloop_lag_p99_seconds` (default true), sampled by perf_hooks'
   * monitorEventLoopDelay: one native timer every `eventLoopResolutionMs` (default 20).
   */
  readonly eventLoopLag?: boolean;
  readonly eventLoopResolutionMs?: number;
}

export interface ProcessMetrics {
  /** Stops the event-loop sampler (its timer does not keep the process alive; this frees it). */
  stop(): void;
}

/**
 * The standard process metrics, under their standard names whatever the registry prefix, so that
 * stock dashboards and alerts work: CPU, resident memory and start time are read at each render
 * (a system call each, nothing on the request path).
 */
export function defaultProcessMetrics(
  registry: MetricsRegistry,
  options: ProcessMetricsOptions = {},
): ProcessMetrics {
  const add = (name: string, type: MetricType, help: string, read: () => number): void => {
    const header = buildFamilyHeader(name, type, help);
    const family: MetricFamily = {
      sampleNames: [name],
      render: () => `${header}${name} ${formatSampleValue(read())}\n`,
    };
    registerMetricFamily(registry, family);
  };

  add('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.', () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  });
  // memoryUsage.rss() reads only the RSS, without walking the V8 heap as memoryUsage() does.
  add('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', () =>
    process.memoryUsage.rss(),
  );
  // timeOrigin is when this process started, in milliseconds since the epoch.
  const startTime = performance.timeOrigin / 1000;
  add(
    'process_start_time_seconds',
    'gauge',
    'Start time of the process since unix epoch in seconds.',
    () => startTime,
  );

  if (options.eventLoopLag === false) return { stop: () => undefined };
  const delay = monitorEventLoopDelay({ resolution: options.eventLoopResolutionMs ?? 20 });
  delay.enable();
  add(
    'nodejs_eventloop_lag_p99_seconds',
    'gauge',
    'The 99th percentile of event loop delay in seconds since the previous scrape.',
    () => {
      // An empty histogram reports a meaningless percentile: no sample means no measured lag.
      const p99 = delay.count === 0 ? 0 : delay.percentile(99) / 1e9;
      delay.reset();
      return p99;
    },
  );
  return { stop: () => delay.disable() };
}

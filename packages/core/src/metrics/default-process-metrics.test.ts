import { afterEach, describe, expect, it } from 'vitest';
import { createMetricsRegistry } from './create-metrics-registry.js';
import { defaultProcessMetrics, type ProcessMetrics } from './default-process-metrics.js';

/** The value of the one sample named `name`. */
function valueOf(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  expect(line, name).toBeDefined();
  return Number(line!.slice(name.length + 1));
}

describe('defaultProcessMetrics', () => {
  let running: ProcessMetrics | undefined;
  afterEach(() => {
    running?.stop();
    running = undefined;
  });

  it('reports CPU, resident memory, start time and event-loop lag under their standard names', async () => {
    const registry = createMetricsRegistry({ prefix: 'gatehouse_' });
    running = defaultProcessMetrics(registry, { eventLoopResolutionMs: 5 });
    // The loop runs timers in expiry order, so the sampler (every 5 ms) has ticked before this one.
    await new Promise<void>((resolve) => setTimeout(resolve, 20));
    const text = registry.render();

    expect(text).toContain('# TYPE process_cpu_seconds_total counter\n');
    expect(text).toContain('# TYPE process_resident_memory_bytes gauge\n');
    expect(text).toContain('# TYPE process_start_time_seconds gauge\n');
    expect(text).toContain('# TYPE nodejs_eventloop_lag_p99_seconds gauge\n');
    expect(text).not.toContain('gatehouse_process');

    const cpu = valueOf(text, 'process_cpu_seconds_total');
    const { user, system } = process.cpuUsage();
    expect(cpu).toBeGreaterThan(0);
    expect(cpu).toBeLessThanOrEqual((user + system) / 1e6);
    expect(valueOf(text, 'process_resident_memory_bytes')).toBeGreaterThan(1024 * 1024);
    const start = valueOf(text, 'process_start_time_seconds');
    const now = Date.now() / 1000;
    expect(start).toBeLessThanOrEqual(now);
    expect(start).toBeGreaterThanOrEqual(now - process.uptime() - 1);
    const lag = valueOf(text, 'nodejs_eventloop_lag_p99_seconds');
    expect(lag).toBeGreaterThan(0);
    expect(lag).toBeLessThan(60);
    // CPU time only grows between scrapes.
    expect(valueOf(registry.render(), 'process_cpu_seconds_total')).toBeGreaterThanOrEqual(cpu);
  });

  it('reports no lag before the sampler has a sample, and can leave the event loop alone', () => {
    const registry = createMetricsRegistry();
    running = defaultProcessMetrics(registry, { eventLoopResolutionMs: 1000 });
    expect(valueOf(registry.render(), 'nodejs_eventloop_lag_p99_seconds')).toBe(0);

    const quiet = createMetricsRegistry();
    defaultProcessMetrics(quiet, { eventLoopLag: false }).stop();
    expect(quiet.render()).not.toContain('nodejs_eventloop');
    expect(quiet.render()).toContain('process_cpu_seconds_total ');
  });

  it('refuses to register twice on one registry', () => {
    const registry = createMetricsRegistry();
    defaultProcessMetrics(registry, { eventLoopLag: false });
    expect(() => defaultProcessMetrics(registry, { eventLoopLag: false })).toThrow(/already defined/);
  });
});

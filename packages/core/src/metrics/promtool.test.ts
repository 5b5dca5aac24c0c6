import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createMetricsRegistry } from './create-metrics-registry.js';
import { defaultProcessMetrics } from './default-process-metrics.js';

/**
 * `promtool check metrics` (Debian package `prometheus`) is Prometheus's own parser and linter for
 * the exposition format. Without it the suite skips with a printed reason, except under
 * GATEHOUSE_REQUIRE_ALL=1 (CI), where nothing may skip.
 */
function findPromtool(): boolean {
  if (spawnSync('promtool', ['--version']).status === 0) return true;
  const reason = 'promtool check metrics: skipped, promtool not installed (apt-get install -y prometheus)';
  if (process.env['GATEHOUSE_REQUIRE_ALL'] === '1')
    throw new Error(`${reason}, and GATEHOUSE_REQUIRE_ALL=1 forbids skipping`);
  process.stderr.write(`[gatehouse] ${reason}\n`);
  return false;
}

describe.runIf(findPromtool())('promtool check metrics', () => {
  it('accepts a rendered registry with every metric type, escapes, folding and process metrics', () => {
    const registry = createMetricsRegistry({ prefix: 'gatehouse_' });
    const processMetrics = defaultProcessMetrics(registry);
    try {
      const requests = registry.counter({
        name: 'requests_total',
        help: 'Requests answered, by route id, method and "status" code.\nSecond line \\ backslash.',
        labelNames: ['route', 'method', 'code'],
        maxSeries: 3,
      });
      for (const route of ['users', 'orders', 'a"b\\c\nd', 'é', 'overflow'])
        requests.inc([route, 'GET', '200']);
      registry.gauge({ name: 'bans_active', help: 'Client addresses currently banned.' }).set([], 3);
      const health = registry.gauge({
        name: 'upstream_healthy',
        help: 'Upstream target health.',
        labelNames: ['target'],
      });
      health.set(['http://10.0.0.1:8080'], 1);
      health.set(['http://10.0.0.2:8080'], NaN);
      const duration = registry.histogram({
        name: 'request_duration_seconds',
        help: 'Request duration.',
        labelNames: ['route', 'phase'],
      });
      duration.observe(['users', 'gateway'], 0.0004);
      duration.observe(['users', 'upstream'], 12);
      registry.histogram({ name: 'empty_seconds', help: 'No observation yet.', buckets: [1] });

      const result = spawnSync('promtool', ['check', 'metrics'], {
        input: registry.render(),
        encoding: 'utf8',
      });
      expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({
        status: 0,
        stdout: '',
        stderr: '',
      });
    } finally {
      processMetrics.stop();
    }
  });
});

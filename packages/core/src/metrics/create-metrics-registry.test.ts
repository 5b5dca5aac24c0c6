import { describe, expect, it } from 'vitest';
import {
  createMetricsRegistry,
  registerMetricFamily,
  SERIES_DROPPED_METRIC,
} from './create-metrics-registry.js';
import type { MetricsRegistry } from './metric-types.js';

const DROPPED_HEADER =
  "# HELP gatehouse_metrics_series_dropped_total Label combinations folded into a metric's __other__ series because it reached its maxSeries.\n" +
  '# TYPE gatehouse_metrics_series_dropped_total counter\n';

/** The rendered lines that are samples (not comments) of metric `name`. */
function samples(registry: MetricsRegistry, name: string): string[] {
  return registry
    .render()
    .split('\n')
    .filter((line) => line.startsWith(name) && !line.startsWith('#'));
}

describe('createMetricsRegistry: exposition format 0.0.4', () => {
  it('renders a small registry exactly', () => {
    const registry = createMetricsRegistry({ prefix: 'gatehouse_' });
    const requests = registry.counter({
      name: 'requests_total',
      help: 'Requests answered, by route and code.',
      labelNames: ['route', 'code'],
    });
    const bans = registry.gauge({ name: 'bans_active', help: 'Client addresses banned.' });
    const duration = registry.histogram({
      name: 'request_duration_seconds',
      help: 'Request duration.',
      labelNames: ['route'],
      buckets: [0.1, 1],
    });
    registry.histogram({ name: 'startup_seconds', help: 'Startup.', buckets: [1] });

    requests.inc(['users', '200']);
    requests.inc(['users', '200'], 2);
    requests.child(['orders', '503']).inc();
    bans.set([], 7);
    const users = duration.child(['users']);
    users.observe(0.05);
    users.observe(0.1); // le is inclusive: 0.1 lands in the 0.1 bucket
    users.observe(0.5);
    users.observe(3);
    duration.observe(['orders'], 0.25);

    expect(registry.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(registry.render()).toBe(
      [
        '# HELP gatehouse_requests_total Requests answered, by route and code.',
        '# TYPE gatehouse_requests_total counter',
        'gatehouse_requests_total{route="users",code="200"} 3',
        'gatehouse_requests_total{route="orders",code="503"} 1',
        '# HELP gatehouse_bans_active Client addresses banned.',
        '# TYPE gatehouse_bans_active gauge',
        'gatehouse_bans_active 7',
        '# HELP gatehouse_request_duration_seconds Request duration.',
        '# TYPE gatehouse_request_duration_seconds histogram',
        'gatehouse_request_duration_seconds_bucket{route="users",le="0.1"} 2',
        'gatehouse_request_duration_seconds_bucket{route="users",le="1"} 3',
        'gatehouse_request_duration_seconds_bucket{route="users",le="+Inf"} 4',
        'gatehouse_request_duration_seconds_sum{route="users"} 3.65',
        'gatehouse_request_duration_seconds_count{route="users"} 4',
        'gatehouse_request_duration_seconds_bucket{route="orders",le="0.1"} 0',
        'gatehouse_request_duration_seconds_bucket{route="orders",le="1"} 1',
        'gatehouse_request_duration_seconds_bucket{route="orders",le="+Inf"} 1',
        'gatehouse_request_duration_seconds_sum{route="orders"} 0.25',
        'gatehouse_request_duration_seconds_count{route="orders"} 1',
        '# HELP gatehouse_startup_seconds Startup.',
        '# TYPE gatehouse_startup_seconds histogram',
        'gatehouse_startup_seconds_bucket{le="1"} 0',
        'gatehouse_startup_seconds_bucket{le="+Inf"} 0',
        'gatehouse_startup_seconds_sum 0',
        'gatehouse_startup_seconds_count 0',
        '',
      ].join('\n') + DROPPED_HEADER,
    );
  });

  it('shows a metric without labels at 0 and a labelled one with no series as HELP and TYPE only', () => {
    const registry = createMetricsRegistry();
    registry.counter({ name: 'events_total', help: 'Events.' });
    registry.counter({ name: 'by_kind_total', help: 'By kind.', labelNames: ['kind'] });
    expect(registry.render()).toBe(
      '# HELP events_total Events.\n# TYPE events_total counter\nevents_total 0\n' +
        '# HELP by_kind_total By kind.\n# TYPE by_kind_total counter\n' +
        DROPPED_HEADER,
    );
  });

  it('escapes label values and HELP text', () => {
    const registry = createMetricsRegistry();
    const counter = registry.counter({
      name: 'odd_total',
      help: 'Backslash \\ and\nnewline, "quotes" kept.',
      labelNames: ['value'],
    });
    counter.inc(['a\\b"c\nd']);
    expect(registry.render()).toContain(
      '# HELP odd_total Backslash \\\\ and\\nnewline, "quotes" kept.\n# TYPE odd_total counter\n' +
        'odd_total{value="a\\\\b\\"c\\nd"} 1\n',
    );
  });

  it('keeps label values apart even when they contain JSON or separators', () => {
    const registry = createMetricsRegistry();
    const counter = registry.counter({ name: 'pairs_total', help: 'h', labelNames: ['a', 'b'] });
    counter.inc(['x","y', 'z']);
    counter.inc(['x', 'y","z']);
    counter.inc(['x\u0000y', 'z']);
    counter.inc(['x', 'y\u0000z']);
    expect(samples(registry, 'pairs_total')).toHaveLength(4);
  });
});

describe('counters', () => {
  it('add through inc and through a bound child, on the same series', () => {
    const registry = createMetricsRegistry();
    const counter = registry.counter({ name: 'hits_total', help: 'h', labelNames: ['route'] });
    const child = counter.child(['a']);
    expect(counter.child(['a'])).toBe(child);
    child.inc();
    child.inc(0.5);
    counter.inc(['a'], 0);
    counter.inc(['a']);
    expect(samples(registry, 'hits_total')).toEqual(['hits_total{route="a"} 2.5']);
  });

  it('without labels take no label values', () => {
    const registry = createMetricsRegistry();
    const counter = registry.counter({ name: 'ticks_total', help: 'h' });
    counter.inc();
    counter.inc(undefined, 4);
    counter.child([]).inc();
    expect(samples(registry, 'ticks_total')).toEqual(['ticks_total 6']);
  });

  it.each([-1, NaN, Infinity, -Infinity])('refuse inc(%d): a counter only goes up', (by) => {
    const counter = createMetricsRegistry().counter({ name: 'c_total', help: 'h' });
    expect(() => counter.inc([], by)).toThrow(RangeError);
    expect(() => counter.child([]).inc(by)).toThrow(/only goes up/);
  });

  it('refuse the wrong number of label values', () => {
    const counter = createMetricsRegistry().counter({ name: 'c_total', help: 'h', labelNames: ['a', 'b'] });
    // @ts-expect-error the compiler checks the count too
    expect(() => counter.inc(['x'])).toThrow(/2 label values expected \(a, b\), got 1/);
    expect(() => counter.inc()).toThrow(/got 0/);
  });
});

describe('gauges', () => {
  it('set, inc and dec, directly and through a child', () => {
    const registry = createMetricsRegistry();
    const gauge = registry.gauge({ name: 'open_connections', help: 'h', labelNames: ['listener'] });
    gauge.set(['public'], 10);
    gauge.inc(['public']);
    gauge.inc(['public'], 4);
    gauge.dec(['public']);
    gauge.dec(['public'], 2);
    const admin = gauge.child(['admin']);
    admin.set(3);
    admin.inc();
    admin.dec(5);
    admin.inc(0.5);
    expect(samples(registry, 'open_connections')).toEqual([
      'open_connections{listener="public"} 12',
      'open_connections{listener="admin"} -0.5',
    ]);
  });

  it('without labels default to the one series', () => {
    const registry = createMetricsRegistry();
    const gauge = registry.gauge({ name: 'level', help: 'h' });
    gauge.inc();
    gauge.inc();
    gauge.dec();
    expect(samples(registry, 'level')).toEqual(['level 1']);
    gauge.set([], NaN);
    expect(samples(registry, 'level')).toEqual(['level NaN']);
  });

  it('run collect with the gauge at each render, and reset forgets stale series', () => {
    const registry = createMetricsRegistry();
    let targets = ['a', 'b'];
    let renders = 0;
    registry.gauge({
      name: 'target_up',
      help: 'h',
      labelNames: ['target'],
      collect(gauge) {
        renders++;
        gauge.reset();
        for (const target of targets) gauge.set([target], renders);
      },
    });
    expect(samples(registry, 'target_up')).toEqual(['target_up{target="a"} 1', 'target_up{target="b"} 1']);
    targets = ['b'];
    expect(samples(registry, 'target_up')).toEqual(['target_up{target="b"} 2']);
  });

  it('without labels go back to 0 on reset', () => {
    const registry = createMetricsRegistry();
    const gauge = registry.gauge({ name: 'level', help: 'h' });
    gauge.set([], 5);
    gauge.reset();
    expect(samples(registry, 'level')).toEqual(['level 0']);
  });

  it('let a failing collect fail the render', () => {
    const registry = createMetricsRegistry();
    registry.gauge({
      name: 'broken',
      help: 'h',
      collect: () => {
        throw new Error('source down');
      },
    });
    expect(() => registry.render()).toThrow('source down');
  });
});

describe('histograms', () => {
  it('use the default buckets, 5 ms to 10 s', () => {
    const registry = createMetricsRegistry();
    registry.histogram({ name: 'd_seconds', help: 'h' }).observe([], 0.007);
    const les = samples(registry, 'd_seconds_bucket').map((line) => /le="([^"]+)"/.exec(line)?.[1]);
    expect(les).toEqual([
      '0.005',
      '0.01',
      '0.025',
      '0.05',
      '0.1',
      '0.25',
      '0.5',
      '1',
      '2.5',
      '5',
      '10',
      '+Inf',
    ]);
    expect(samples(registry, 'd_seconds_bucket{le="0.01"}')).toEqual(['d_seconds_bucket{le="0.01"} 1']);
  });

  it('put values on a bound in that bucket and infinite ones in +Inf only', () => {
    const registry = createMetricsRegistry();
    const histogram = registry.histogram({ name: 'v', help: 'h', buckets: [0, 1, Infinity] });
    const child = histogram.child([]);
    child.observe(-Infinity);
    child.observe(-2);
    child.observe(0);
    child.observe(1);
    child.observe(Infinity);
    expect(samples(registry, 'v_')).toEqual([
      'v_bucket{le="0"} 3',
      'v_bucket{le="1"} 4',
      'v_bucket{le="+Inf"} 5',
      'v_sum NaN',
      'v_count 5',
    ]);
  });

  it('refuse NaN observations', () => {
    const histogram = createMetricsRegistry().histogram({ name: 'v', help: 'h' });
    expect(() => histogram.observe([], NaN)).toThrow(/observed NaN/);
  });

  it.each([
    ['no bucket', []],
    ['only +Inf', [Infinity]],
    ['unsorted', [1, 0.5]],
    ['a repeated bound', [1, 1]],
    ['NaN', [NaN]],
    ['-Inf', [-Infinity, 1]],
    ['+Inf before the end', [1, Infinity, 2]],
  ])('refuse buckets with %s', (_case, buckets) => {
    const registry = createMetricsRegistry();
    expect(() => registry.histogram({ name: 'v', help: 'h', buckets })).toThrow(/bucket/);
  });
});

describe('bounded label sets', () => {
  it('fold combinations past maxSeries into __other__ and count each one dropped', () => {
    const registry = createMetricsRegistry({ prefix: 'gatehouse_' });
    const requests = registry.counter({
      name: 'requests_total',
      help: 'h',
      labelNames: ['route', 'code'],
      maxSeries: 2,
    });
    const latency = registry.histogram({
      name: 'latency_seconds',
      help: 'h',
      labelNames: ['path'],
      maxSeries: 1,
      buckets: [1],
    });
    requests.inc(['a', '200']);
    requests.inc(['b', '200']);
    requests.inc(['c', '200']); // third combination: folded
    requests.inc(['a', '200']); // known: still its own series
    const other = requests.child(['d', '404']); // folded at binding time
    other.inc(10);
    latency.observe(['/x'], 0.5);
    latency.observe(['/y?token=attacker-chosen'], 2);

    expect(samples(registry, 'gatehouse_requests_total')).toEqual([
      'gatehouse_requests_total{route="a",code="200"} 2',
      'gatehouse_requests_total{route="b",code="200"} 1',
      'gatehouse_requests_total{route="__other__",code="__other__"} 11',
    ]);
    expect(samples(registry, 'gatehouse_latency_seconds_count')).toEqual([
      'gatehouse_latency_seconds_count{path="/x"} 1',
      'gatehouse_latency_seconds_count{path="__other__"} 1',
    ]);
    expect(registry.render()).not.toContain('attacker-chosen');
    expect(samples(registry, SERIES_DROPPED_METRIC)).toEqual([
      'gatehouse_metrics_series_dropped_total{metric="gatehouse_requests_total"} 2',
      'gatehouse_metrics_series_dropped_total{metric="gatehouse_latency_seconds"} 1',
    ]);
  });

  it('keep memory bounded under a flood of distinct values', () => {
    const registry = createMetricsRegistry();
    const counter = registry.counter({ name: 'paths_total', help: 'h', labelNames: ['path'] });
    for (let i = 0; i < 5000; i++) counter.inc([`/p/${i}`]);
    const lines = samples(registry, 'paths_total');
    expect(lines).toHaveLength(1001); // maxSeries defaults to 1000, plus __other__
    expect(lines.at(-1)).toBe('paths_total{path="__other__"} 4000');
    expect(samples(registry, SERIES_DROPPED_METRIC)).toEqual([
      'gatehouse_metrics_series_dropped_total{metric="paths_total"} 4000',
    ]);
  });

  it('count caller-given __other__ values in the same __other__ series', () => {
    const registry = createMetricsRegistry();
    const counter = registry.counter({ name: 'k_total', help: 'h', labelNames: ['k'], maxSeries: 1 });
    counter.inc(['__other__']);
    counter.inc(['x']);
    expect(samples(registry, 'k_total')).toEqual(['k_total{k="__other__"} 2']);
  });
});

describe('registry', () => {
  it('refuses a name defined twice, or one a histogram already writes', () => {
    const registry = createMetricsRegistry();
    registry.gauge({ name: 'x', help: 'h' });
    expect(() => registry.gauge({ name: 'x', help: 'h' })).toThrow(/metric x is already defined/);
    registry.histogram({ name: 'd_seconds', help: 'h' });
    expect(() => registry.gauge({ name: 'd_seconds_count', help: 'h' })).toThrow(
      /d_seconds_count is already defined/,
    );
    expect(() => registry.histogram({ name: 'x', help: 'h' })).toThrow(/metric x is already defined/);
    expect(() => registry.counter({ name: 'gatehouse_metrics_series_dropped_total', help: 'h' })).toThrow(
      /already defined/,
    );
    // A refused definition leaves nothing behind: its other names stay free.
    registry.gauge({ name: 'x_bucket', help: 'h' });
  });

  it('refuses a prefix that makes no valid name', () => {
    expect(() => createMetricsRegistry({ prefix: 'my-app_' })).toThrow(/prefix "my-app_"/);
    expect(createMetricsRegistry({ prefix: '' }).render()).toBe(DROPPED_HEADER);
  });

  it('registers internal families only on its own registries', () => {
    const foreign: MetricsRegistry = { ...createMetricsRegistry() };
    expect(() => registerMetricFamily(foreign, { sampleNames: ['y'], render: () => '' })).toThrow(
      /not a registry made by createMetricsRegistry/,
    );
  });
});

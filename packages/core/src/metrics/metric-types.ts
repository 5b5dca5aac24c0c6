/**
 * Label values given in the order of the metric's `labelNames`: with `labelNames: ['route', 'method']`
 * a call takes `['users', 'GET']`, and the compiler checks the count.
 */
export type LabelValues<Names extends readonly string[]> = { readonly [K in keyof Names]: string };

export interface MetricDefinition<Names extends readonly string[] = readonly string[]> {
  /** Metric name, `[a-zA-Z_:][a-zA-Z0-9_:]*` once the registry's prefix is added. */
  readonly name: string;
  /** One line for `# HELP`. */
  readonly help: string;
  /** Label names, `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__` (reserved by Prometheus). */
  readonly labelNames?: Names;
  /**
   * Most label combinations kept (default 1000), the guard against unbounded cardinality (a raw path
   * or a client-chosen value used as a label would otherwise grow memory and the scrape without
   * end). Past it, each new combination is counted in one series whose label values are all
   * `__other__`, and `gatehouse_metrics_series_dropped_total{metric}` goes up.
   */
  readonly maxSeries?: number;
}

export interface GaugeDefinition<
  Names extends readonly string[] = readonly string[],
> extends MetricDefinition<Names> {
  /**
   * Called with the gauge at each `render()`, before it is read: for values cheaper to sample at
   * scrape time than to track (queue lengths, active bans). Calling `gauge.reset()` first drops
   * series whose subject is gone. An exception fails the render.
   */
  readonly collect?: (gauge: Gauge<Names>) => void;
}

export interface HistogramDefinition<
  Names extends readonly string[] = readonly string[],
> extends MetricDefinition<Names> {
  /** Upper bounds, strictly increasing (default DEFAULT_BUCKETS); `+Inf` is always added. */
  readonly buckets?: readonly number[];
}

/** A counter bound to one label combination: the hot path binds once, then only adds. */
export interface CounterChild {
  /** Adds `by` (default 1, finite and not negative: a counter only goes up). */
  inc(by?: number): void;
}

export interface Counter<Names extends readonly string[] = readonly string[]> {
  inc(labels?: LabelValues<Names>, by?: number): void;
  child(labels: LabelValues<Names>): CounterChild;
}

export interface GaugeChild {
  set(value: number): void;
  inc(by?: number): void;
  dec(by?: number): void;
}

export interface Gauge<Names extends readonly string[] = readonly string[]> {
  set(labels: LabelValues<Names>, value: number): void;
  inc(labels?: LabelValues<Names>, by?: number): void;
  dec(labels?: LabelValues<Names>, by?: number): void;
  child(labels: LabelValues<Names>): GaugeChild;
  /**
   * Forgets every series (a gauge without labels goes back to 0). Children bound before no longer
   * show: meant for a `collect` that sets all current series afresh.
   */
  reset(): void;
}

export interface HistogramChild {
  /** Records one observation (seconds, for a duration; not NaN). */
  observe(value: number): void;
}

export interface Histogram<Names extends readonly string[] = readonly string[]> {
  observe(labels: LabelValues<Names>, value: number): void;
  child(labels: LabelValues<Names>): HistogramChild;
}

export interface MetricsRegistryOptions {
  /** Added before every name defined through the registry, e.g. `gatehouse_`. */
  readonly prefix?: string;
}

export interface MetricsRegistry {
  counter<const Names extends readonly string[] = readonly []>(def: MetricDefinition<Names>): Counter<Names>;
  gauge<const Names extends readonly string[] = readonly []>(def: GaugeDefinition<Names>): Gauge<Names>;
  histogram<const Names extends readonly string[] = readonly []>(
    def: HistogramDefinition<Names>,
  ): Histogram<Names>;
  /** Every metric in the Prometheus text exposition format 0.0.4, in definition order. */
  render(): string;
  /** The `Content-Type` for `render()`'s output. */
  readonly contentType: string;
}

/** The Prometheus client default buckets, in seconds: 5 ms to 10 s. */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

/** The label value of the series that collects label combinations past `maxSeries`. */
export const OTHER_LABEL_VALUE = '__other__';

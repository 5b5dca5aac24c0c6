import { buildFamilyHeader, formatSampleValue, type MetricFamily } from './exposition.js';
import type { ResolvedDefinition } from './metric-definition.js';
import { DEFAULT_BUCKETS, type Histogram, type HistogramChild } from './metric-types.js';
import { SeriesTable } from './series-table.js';

interface Bucket {
  readonly bound: number;
  /** The bound as rendered in `le`. */
  readonly le: string;
  /** Observations in this bucket only (one add per observation); cumulated at render. */
  count: number;
}

class HistogramSeries implements HistogramChild {
  readonly buckets: readonly Bucket[];
  sum = 0;
  /** Every observation, which is also the `+Inf` bucket's cumulative count. */
  count = 0;
  readonly labelPairs: string;
  readonly #metric: string;

  constructor(metric: string, bounds: readonly Omit<Bucket, 'count'>[], labelPairs: string) {
    this.#metric = metric;
    this.labelPairs = labelPairs;
    this.buckets = bounds.map(({ bound, le }) => ({ bound, le, count: 0 }));
  }

  observe(value: number): void {
    if (Number.isNaN(value)) throw new RangeError(`metric ${this.#metric}: observed NaN`);
    this.sum += value;
    this.count++;
    for (const bucket of this.buckets) {
      if (value <= bucket.bound) {
        bucket.count++;
        return;
      }
    }
  }
}

/** Finite, strictly increasing bounds; a trailing `+Inf` is dropped (it is always rendered). */
export function resolveBuckets(
  metric: string,
  buckets: readonly number[] = DEFAULT_BUCKETS,
): readonly number[] {
  const bounds = buckets.at(-1) === Infinity ? buckets.slice(0, -1) : [...buckets];
  if (bounds.length === 0) throw new RangeError(`metric ${metric}: at least one finite bucket`);
  let previous = -Infinity;
  for (const bound of bounds) {
    if (!Number.isFinite(bound) || bound <= previous) {
      throw new RangeError(`metric ${metric}: buckets are finite and strictly increasing`);
    }
    previous = bound;
  }
  return Object.freeze(bounds);
}

export function defineHistogram(
  def: ResolvedDefinition,
  onDrop: (metric: string) => void,
  buckets: readonly number[] | undefined,
): { readonly metric: Histogram; readonly family: MetricFamily } {
  const bounds = resolveBuckets(def.name, buckets).map((bound) => ({ bound, le: formatSampleValue(bound) }));
  const table = new SeriesTable({
    ...def,
    metric: def.name,
    create: (labelPairs) => new HistogramSeries(def.name, bounds, labelPairs),
    onDrop,
  });
  const header = buildFamilyHeader(def.name, 'histogram', def.help);
  const { name } = def;
  return {
    metric: {
      observe: (labels, value) => table.get(labels).observe(value),
      child: (labels) => table.get(labels),
    },
    family: {
      sampleNames: [name, `${name}_bucket`, `${name}_sum`, `${name}_count`],
      render: () => {
        let text = header;
        for (const series of table.values()) {
          const pairs = series.labelPairs;
          const bucketLead = `${name}_bucket{${pairs === '' ? '' : `${pairs},`}le="`;
          let cumulative = 0;
          for (const bucket of series.buckets) {
            cumulative += bucket.count;
            text += `${bucketLead}${bucket.le}"} ${cumulative}\n`;
          }
          const labels = pairs === '' ? '' : `{${pairs}}`;
          text +=
            `${bucketLead}+Inf"} ${series.count}\n` +
            `${name}_sum${labels} ${formatSampleValue(series.sum)}\n${name}_count${labels} ${series.count}\n`;
        }
        return text;
      },
    },
  };
}

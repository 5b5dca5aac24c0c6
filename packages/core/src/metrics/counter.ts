import { buildFamilyHeader, formatSampleValue, type MetricFamily } from './exposition.js';
import type { ResolvedDefinition } from './metric-definition.js';
import type { Counter, CounterChild } from './metric-types.js';
import { SeriesTable } from './series-table.js';

const NO_LABELS: readonly string[] = [];

class CounterSeries implements CounterChild {
  value = 0;
  readonly lead: string;
  readonly #metric: string;

  constructor(metric: string, labelPairs: string) {
    this.#metric = metric;
    this.lead = labelPairs === '' ? metric : `${metric}{${labelPairs}}`;
  }

  inc(by = 1): void {
    if (!(by >= 0 && by !== Infinity))
      throw new RangeError(`metric ${this.#metric}: a counter only goes up (inc by ${by})`);
    this.value += by;
  }
}

export function defineCounter(
  def: ResolvedDefinition,
  onDrop: (metric: string) => void,
): { readonly metric: Counter; readonly family: MetricFamily } {
  const table = new SeriesTable({
    ...def,
    metric: def.name,
    create: (labelPairs) => new CounterSeries(def.name, labelPairs),
    onDrop,
  });
  const header = buildFamilyHeader(def.name, 'counter', def.help);
  return {
    metric: {
      inc: (labels = NO_LABELS, by = 1) => table.get(labels).inc(by),
      child: (labels) => table.get(labels),
    },
    family: {
      sampleNames: [def.name],
      render: () => {
        let text = header;
        for (const series of table.values()) text += `${series.lead} ${formatSampleValue(series.value)}\n`;
        return text;
      },
    },
  };
}

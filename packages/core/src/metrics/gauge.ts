import { buildFamilyHeader, formatSampleValue, type MetricFamily } from './exposition.js';
import type { ResolvedDefinition } from './metric-definition.js';
import type { Gauge, GaugeChild } from './metric-types.js';
import { SeriesTable } from './series-table.js';

const NO_LABELS: readonly string[] = [];

class GaugeSeries implements GaugeChild {
  value = 0;
  readonly lead: string;

  constructor(metric: string, labelPairs: string) {
    this.lead = labelPairs === '' ? metric : `${metric}{${labelPairs}}`;
  }

  set(value: number): void {
    this.value = value;
  }

  inc(by = 1): void {
    this.value += by;
  }

  dec(by = 1): void {
    this.value -= by;
  }
}

export function defineGauge(
  def: ResolvedDefinition,
  onDrop: (metric: string) => void,
  collect: ((gauge: Gauge) => void) | undefined,
): { readonly metric: Gauge; readonly family: MetricFamily } {
  const table = new SeriesTable({
    ...def,
    metric: def.name,
    create: (labelPairs) => new GaugeSeries(def.name, labelPairs),
    onDrop,
  });
  const header = buildFamilyHeader(def.name, 'gauge', def.help);
  const metric: Gauge = {
    set: (labels, value) => table.get(labels).set(value),
    inc: (labels = NO_LABELS, by = 1) => table.get(labels).inc(by),
    dec: (labels = NO_LABELS, by = 1) => table.get(labels).dec(by),
    child: (labels) => table.get(labels),
    reset: () => table.clear(),
  };
  return {
    metric,
    family: {
      sampleNames: [def.name],
      render: () => {
        collect?.(metric);
        let text = header;
        for (const series of table.values()) text += `${series.lead} ${formatSampleValue(series.value)}\n`;
        return text;
      },
    },
  };
}

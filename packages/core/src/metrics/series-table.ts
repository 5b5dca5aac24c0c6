import { buildLabelPairs } from './exposition.js';
import { OTHER_LABEL_VALUE } from './metric-types.js';

export interface SeriesTableOptions<Series> {
  readonly metric: string;
  readonly labelNames: readonly string[];
  readonly maxSeries: number;
  /** Builds a series from its rendered `name="value",…` pairs. */
  readonly create: (labelPairs: string) => Series;
  /** Called each time a new label combination is folded into the `__other__` series. */
  readonly onDrop: (metric: string) => void;
}

/**
 * The series of one metric, by label values. At most `maxSeries` combinations are kept, plus the
 * `__other__` one that takes every combination after that: memory and scrape size stay bounded
 * whatever values callers pass.
 */
export class SeriesTable<Series> {
  readonly #series = new Map<string, Series>();
  readonly #options: SeriesTableOptions<Series>;
  readonly #otherValues: readonly string[];

  constructor(options: SeriesTableOptions<Series>) {
    this.#options = options;
    this.#otherValues = options.labelNames.map(() => OTHER_LABEL_VALUE);
    this.clear();
  }

  /** Forgets every series. A metric without labels always shows its one series (at 0 before any sample). */
  clear(): void {
    this.#series.clear();
    if (this.#options.labelNames.length === 0) this.get([]);
  }

  get(values: readonly string[]): Series {
    const { labelNames } = this.#options;
    if (values.length !== labelNames.length) {
      throw new TypeError(
        `metric ${this.#options.metric}: ${labelNames.length} label values expected (${labelNames.join(', ')}), got ${values.length}`,
      );
    }
    const key = keyOf(values);
    const found = this.#series.get(key);
    if (found !== undefined) return found;
    if (this.#series.size >= this.#options.maxSeries) {
      this.#options.onDrop(this.#options.metric);
      return this.#other();
    }
    return this.#add(key, values);
  }

  values(): IterableIterator<Series> {
    return this.#series.values();
  }

  #other(): Series {
    const key = keyOf(this.#otherValues);
    return this.#series.get(key) ?? this.#add(key, this.#otherValues);
  }

  #add(key: string, values: readonly string[]): Series {
    const series = this.#options.create(buildLabelPairs(this.#options.labelNames, values));
    this.#series.set(key, series);
    return series;
  }
}

/** One label value is its own key (the common case costs no allocation); more are JSON, which is unambiguous. */
function keyOf(values: readonly string[]): string {
  return values.length === 1 ? String(values[0]) : JSON.stringify(values);
}

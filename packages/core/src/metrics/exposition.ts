// Prometheus text exposition format 0.0.4:
// https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** A label value inside double quotes: backslash, double quote and line feed are escaped. */
export function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value)
    ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
    : value;
}

/** `# HELP` text: backslash and line feed are escaped (a double quote stays as is). */
export function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value as Go's ParseFloat reads it: `NaN`, `+Inf` and `-Inf` spelled the Prometheus way. */
export function formatSampleValue(value: number): string {
  if (Number.isFinite(value)) return String(value);
  if (Number.isNaN(value)) return 'NaN';
  return value > 0 ? '+Inf' : '-Inf';
}

/** `name="value",…` for one series, computed once when the series is created. */
export function buildLabelPairs(names: readonly string[], values: readonly string[]): string {
  let pairs = '';
  let i = 0;
  for (const name of names) {
    // String(): a JavaScript caller may pass a number; the format only has string values.
    pairs += `${i === 0 ? '' : ','}${name}="${escapeLabelValue(String(values[i]))}"`;
    i++;
  }
  return pairs;
}

/** `# HELP` and `# TYPE` lines of one metric family. */
export function buildFamilyHeader(name: string, type: MetricType, help: string): string {
  return `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
}

/** One rendered metric family, as the registry keeps it. */
export interface MetricFamily {
  /** Every sample name the family writes (`x_bucket`, `x_sum`, `x_count` for histogram `x`), kept unique. */
  readonly sampleNames: readonly string[];
  render(): string;
}

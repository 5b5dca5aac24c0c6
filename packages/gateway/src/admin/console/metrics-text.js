/**
 * The Prometheus text exposition format (version 0.0.4), read in the admin console and in its
 * tests: samples of one metric family, and request rates between two scrapes. No DOM, no Node.
 */

/**
 * @typedef {{ name: string, labels: Record<string, string>, value: number }} Sample
 * @typedef {{ time: number, total: number, clientErrors: number, serverErrors: number }} RequestTotals
 * @typedef {{ time: number, rate: number, clientErrorRatio: number, serverErrorRatio: number }} RequestRate
 */

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** A sample value: a float, or `NaN`, `+Inf`, `-Inf` as the format spells them. */
function parseValue(text) {
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (!/^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

/**
 * The labels of one sample, from just after `{`: returns them and the index after `}`, or
 * undefined when the line is malformed. Label values escape `\\`, `\"` and `\n`.
 */
function parseLabels(line, start) {
  /** @type {Record<string, string>} */
  const labels = {};
  let i = start;
  for (;;) {
    while (line[i] === ' ') i++;
    if (line[i] === '}') return { labels, end: i + 1 };
    const name = LABEL_NAME.exec(line.slice(i));
    if (name === null) return undefined;
    i += name[0].length;
    while (line[i] === ' ') i++;
    if (line[i] !== '=' || line[i + 1] !== '"') return undefined;
    i += 2;
    let value = '';
    for (;;) {
      const c = line[i];
      if (c === undefined) return undefined;
      if (c === '"') break;
      if (c === '\\') {
        const next = line[i + 1];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else return undefined;
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    labels[name[0]] = value;
    i++;
    while (line[i] === ' ') i++;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') return undefined;
  }
}

/**
 * The samples of the metric `family` in a scrape (every family when omitted). Comments, blank
 * lines and malformed lines are skipped: one bad line never hides the others.
 * @param {string} text
 * @param {string} [family]
 * @returns {Sample[]}
 */
export function parsePrometheusText(text, family) {
  /** @type {Sample[]} */
  const samples = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const name = NAME.exec(line);
    if (name === null) continue;
    if (family !== undefined && name[0] !== family) continue;
    let rest = name[0].length;
    /** @type {Record<string, string>} */
    let labels = {};
    if (line[rest] === '{') {
      const parsed = parseLabels(line, rest + 1);
      if (parsed === undefined) continue;
      labels = parsed.labels;
      rest = parsed.end;
    }
    // The value, then an optional timestamp.
    const fields = line.slice(rest).trim().split(/\s+/);
    const value = parseValue(fields[0] ?? '');
    if (value === undefined || fields.length > 2) continue;
    samples.push({ name: name[0], labels, value });
  }
  return samples;
}

/**
 * Totals of `gatehouse_requests_total` in one scrape: all requests, 4xx and 5xx answers.
 * @param {string} text
 * @param {number} time when it was scraped (ms)
 * @returns {RequestTotals}
 */
export function sumRequests(text, time) {
  let total = 0;
  let clientErrors = 0;
  let serverErrors = 0;
  for (const sample of parsePrometheusText(text, 'gatehouse_requests_total')) {
    if (!Number.isFinite(sample.value)) continue;
    total += sample.value;
    const code = sample.labels['code'] ?? '';
    if (code.startsWith('4')) clientErrors += sample.value;
    else if (code.startsWith('5')) serverErrors += sample.value;
  }
  return { time, total, clientErrors, serverErrors };
}

/**
 * Requests per second and the share of 4xx and 5xx answers between two scrapes. A counter that
 * went down was reset (the gateway restarted): what it counts now all happened since.
 * @param {RequestTotals} previous
 * @param {RequestTotals} next
 * @returns {RequestRate | undefined} undefined when no time passed
 */
export function computeRate(previous, next) {
  const seconds = (next.time - previous.time) / 1000;
  if (!(seconds > 0)) return undefined;
  const reset = next.total < previous.total;
  const delta = (key) => (reset ? next[key] : Math.max(0, next[key] - previous[key]));
  const total = delta('total');
  return {
    time: next.time,
    rate: total / seconds,
    clientErrorRatio: total === 0 ? 0 : delta('clientErrors') / total,
    serverErrorRatio: total === 0 ? 0 : delta('serverErrors') / total,
  };
}

import type { RetentionHorizon } from './read-retention-horizon.js';
import type { ReportRecord } from './select-records.js';

export type ReportFormat = 'json' | 'csv' | 'html';

export interface ReportHeader {
  /** `access` or `incidents`. */
  readonly kind: string;
  readonly title: string;
  /** What the report covers, e.g. `{ subject, from, to }` (strings only). */
  readonly scope: Readonly<Record<string, string | undefined>>;
  readonly generatedAt: string;
  /** Set once the log was pruned (readRetentionHorizon). */
  readonly retention?: RetentionHorizon | undefined;
  /** What the reader must know about the records shown, e.g. a period before the retention horizon. */
  readonly warnings?: readonly string[];
}

/** The columns of a report row (ECS names where there is one). */
const COLUMNS = [
  ['seq', (r: ReportRecord) => String(r.seq)],
  ['@timestamp', (r: ReportRecord) => r.event.time],
  ['event.action', (r: ReportRecord) => r.event.action],
  ['event.outcome', (r: ReportRecord) => r.event.outcome],
  ['service.name', (r: ReportRecord) => r.event.component],
  ['user.id', (r: ReportRecord) => r.event.actor?.sub ?? ''],
  ['client_id', (r: ReportRecord) => r.event.actor?.clientId ?? ''],
  ['source.ip', (r: ReportRecord) => r.event.sourceIp ?? ''],
  [
    'target',
    (r: ReportRecord) =>
      r.event.target === undefined ? '' : `${r.event.target.type ?? ''}:${r.event.target.id ?? ''}`,
  ],
  ['decision', (r: ReportRecord) => r.event.decision ?? ''],
  ['event.reason', (r: ReportRecord) => r.event.reason ?? ''],
  ['http.request.id', (r: ReportRecord) => r.event.requestId ?? ''],
  ['details', (r: ReportRecord) => (r.event.details === undefined ? '' : JSON.stringify(r.event.details))],
  ['event.id', (r: ReportRecord) => r.id],
] as const;

/**
 * RFC 4180 field: quoted when it holds a comma, quote or line break; a cell a spreadsheet would take
 * for a formula (`=`, `+`, `-`, `@`, tab, CR first) is prefixed with `'` (OWASP CSV injection).
 */
function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
const html = (value: string): string => value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string);

/** Renders a report: one JSON document, CSV with a header row (CRLF line ends), or a self-contained HTML page. */
export function renderReport(
  format: ReportFormat,
  header: ReportHeader,
  records: readonly ReportRecord[],
): string {
  if (format === 'json') {
    return `${JSON.stringify(
      {
        report: header.kind,
        title: header.title,
        scope: header.scope,
        generatedAt: header.generatedAt,
        ...(header.retention === undefined ? {} : { retention: header.retention }),
        ...(header.warnings === undefined || header.warnings.length === 0
          ? {}
          : { warnings: header.warnings }),
        count: records.length,
        records: records.map((r) => ({ seq: r.seq, id: r.id, ...r.event })),
      },
      null,
      2,
    )}\n`;
  }
  if (format === 'csv') {
    const lines = [COLUMNS.map(([name]) => name).join(',')];
    for (const record of records) lines.push(COLUMNS.map(([, get]) => csvField(get(record))).join(','));
    return `${lines.join('\r\n')}\r\n`;
  }
  const scope = Object.entries(header.scope)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `<dt>${html(name)}</dt><dd>${html(value)}</dd>`)
    .join('');
  const retention =
    header.retention === undefined
      ? ''
      : `<dt>retention horizon</dt><dd>${html(header.retention.horizon)}</dd>`;
  const warnings = (header.warnings ?? [])
    .map((w) => `<p role="alert"><strong>Warning:</strong> ${html(w)}</p>\n`)
    .join('');
  const rows = records
    .map((record) => `<tr>${COLUMNS.map(([, get]) => `<td>${html(get(record))}</td>`).join('')}</tr>`)
    .join('\n');
  // No script, no external resource: the page can be archived and opened anywhere.
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${html(header.title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}th{background:#f4f4f4}dt{font-weight:600}</style>
</head>
<body>
<h1>${html(header.title)}</h1>
${warnings}<dl>${scope}${retention}<dt>generated</dt><dd>${html(header.generatedAt)}</dd><dt>records</dt><dd>${records.length}</dd></dl>
<table>
<thead><tr>${COLUMNS.map(([name]) => `<th>${html(name)}</th>`).join('')}</tr></thead>
<tbody>
${rows}
</tbody>
</table>
</body>
</html>
`;
}

import {
  concernsSubject,
  createAuditStore,
  isIncident,
  readRetentionHorizon,
  renderReport,
  retentionWarnings,
  selectRecords,
  type ReportFormat,
  type ReportRecord,
} from '@gatehouse/audit';
import type { AuditEvent } from '@gatehouse/core';
import { DEPLOYMENT_OPTIONS, parse } from '../args.js';
import { loadDeployment } from '../config/load-deployment.js';
import { EXIT_OK, UsageError, writeLine, type CliIo } from '../io.js';
import { loadAuditPseudonymizer } from '../runtime/audit-pseudonymizer.js';
import { isoOption, withAuditDatabase } from './audit.js';
import { subcommands } from './subcommands.js';

/** `gatehouse report access|incidents`: reports over the audit store (no server needed). */
export const reportCommand = subcommands('report', { access, incidents });

const FORMATS: readonly ReportFormat[] = ['json', 'csv', 'html'];

const REPORT_OPTIONS = {
  ...DEPLOYMENT_OPTIONS,
  from: { type: 'string' },
  to: { type: 'string' },
  format: { type: 'string' },
} as const;

function formatOption(value: string | undefined): ReportFormat {
  if (value === undefined) return 'json';
  if (!(FORMATS as readonly string[]).includes(value))
    throw new UsageError(`--format must be one of ${FORMATS.join(', ')}`);
  return value as ReportFormat;
}

async function run(
  io: CliIo,
  values: { config?: string; 'data-dir'?: string; from?: string; to?: string; format?: string },
  header: { kind: string; title: string; scope: Record<string, string | undefined> },
  keep: (event: AuditEvent) => boolean,
): Promise<number> {
  const format = formatOption(values.format);
  const from = isoOption('--from', values.from);
  const to = isoOption('--to', values.to);
  const deployment = await loadDeployment(io, { config: values.config, dataDir: values['data-dir'] });
  const { records, retention } = await withAuditDatabase(deployment, async (db) => {
    const found: ReportRecord[] = [];
    for await (const record of selectRecords(createAuditStore(db), { from, to }, keep)) found.push(record);
    return { records: found, retention: await readRetentionHorizon(db) };
  });
  // A period before the retention horizon must not read as "nothing happened".
  const warnings = retentionWarnings({ from, to }, retention);
  for (const warning of warnings) writeLine(io.stderr, `WARNING: ${warning}`);
  io.stdout.write(
    renderReport(
      format,
      {
        ...header,
        scope: { ...header.scope, from, to },
        generatedAt: new Date().toISOString(),
        retention,
        warnings,
      },
      records,
    ),
  );
  return EXIT_OK;
}

/** Every access by or about one data subject (GDPR Art. 15): what they did, and what was done to their account. */
async function access(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { ...REPORT_OPTIONS, subject: { type: 'string' } });
  const subject = values.subject;
  if (subject === undefined || subject === '') throw new UsageError('--subject is required');
  // With pseudonymisation on, the subject's records carry its keyed pseudonym (older ones, from
  // before it was turned on, the subject itself): both are looked for.
  const deployment = await loadDeployment(io, { config: values.config, dataDir: values['data-dir'] });
  const pseudonymizer = await loadAuditPseudonymizer(deployment, io.env, { create: false });
  const plain = concernsSubject(subject);
  const pseudonymous =
    pseudonymizer === undefined || !deployment.config.audit.pseudonymize.subject
      ? undefined
      : concernsSubject(pseudonymizer.subject(subject));
  return run(
    io,
    values,
    { kind: 'access', title: `Access report for subject ${subject}`, scope: { subject } },
    pseudonymous === undefined ? plain : (event) => plain(event) || pseudonymous(event),
  );
}

/** Detections, alerts and their actions, bans, lockouts, token theft and key compromise of a period. */
async function incidents(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, REPORT_OPTIONS);
  return run(io, values, { kind: 'incidents', title: 'Incident report', scope: {} }, isIncident);
}

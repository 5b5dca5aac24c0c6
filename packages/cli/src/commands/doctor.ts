import { DEPLOYMENT_OPTIONS, JSON_OPTION, parse } from '../args.js';
import { parseDayCount } from '../certs/parse-day-count.js';
import { runDoctor, type DoctorReport } from '../doctor/run-doctor.js';
import { EXIT_FAILURE, EXIT_OK, formatTable, writeJson, writeLine, type CliIo } from '../io.js';

/** As `gatehouse certs list`. */
const DEFAULT_WITHIN_DAYS = 14;
const MAX_WITHIN_DAYS = 3650;

function summary(report: DoctorReport): string {
  const count = (severity: string): number =>
    report.findings.filter((finding) => finding.severity === severity).length;
  if (report.findings.length === 0) return 'No findings: configuration, keys and certificates look fine.';
  const [high, warning, info] = [count('high'), count('warning'), count('info')];
  return (
    `${high} high, ${warning} warning(s), ${info} info` +
    (report.ok ? '.' : ': fix the high-severity findings (exit 1).')
  );
}

/**
 * `gatehouse doctor [--config FILE] [--data-dir DIR] [--within-days N] [--json]`: configuration,
 * key and certificate hygiene in one report; exit 1 on a high-severity finding (architecture
 * contract), 0 otherwise, so it fits cron and monitoring like `keys check` and `certs list`.
 */
export async function doctorCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, {
    ...DEPLOYMENT_OPTIONS,
    ...JSON_OPTION,
    'within-days': { type: 'string' },
  });
  const within = values['within-days'];
  const withinDays =
    within === undefined ? DEFAULT_WITHIN_DAYS : parseDayCount(within, '--within-days', 0, MAX_WITHIN_DAYS);
  const report = await runDoctor(io, {
    config: values.config,
    dataDir: values['data-dir'],
    withinDays,
    now: Date.now(),
  });
  const code = report.ok ? EXIT_OK : EXIT_FAILURE;
  if (values.json === true) {
    writeJson(io, report);
    return code;
  }
  const dataDir = report.dataDir === undefined ? '' : ` (data dir ${report.dataDir})`;
  writeLine(io.stdout, `gatehouse doctor: ${report.config}${dataDir}`);
  if (report.findings.length > 0) {
    writeLine(
      io.stdout,
      formatTable(
        ['SEVERITY', 'CHECK', 'FINDING'],
        report.findings.map((finding) => [finding.severity.toUpperCase(), finding.check, finding.message]),
      ),
    );
  }
  writeLine(io.stdout, summary(report));
  return code;
}

import { dirname } from 'node:path';
import { deploymentFindings } from '../config/deployment-checks.js';
import type { CliIo } from '../io.js';
import { checkAuditLog } from './check-audit-log.js';
import { checkPkiFolder } from './check-pki-folder.js';
import { checkSigningKeys } from './check-signing-keys.js';
import { checkTlsFiles } from './check-tls-files.js';
import { sortFindings, type DoctorFinding } from './finding.js';
import { locateDeployment } from './locate-deployment.js';
import { tlsFileSets } from './tls-file-sets.js';

export interface RunDoctorOptions {
  readonly config?: string | undefined;
  readonly dataDir?: string | undefined;
  /** Certificates expiring within this many days are a warning. */
  readonly withinDays: number;
  readonly now: number;
}

export interface DoctorReport {
  /** No high-severity finding. */
  readonly ok: boolean;
  /** The deployment file examined (the one `init` wrote, for a stack file). */
  readonly config: string;
  readonly stackFile?: string;
  readonly dataDir?: string;
  readonly withinDays: number;
  /** High first, then warnings, then information. */
  readonly findings: DoctorFinding[];
}

/**
 * Every check, in the order an operator fixes things: the configuration, the TLS files it names,
 * the development CA's folder, the key-encryption key and signing keys, then the audit log and its sinks. A configuration that
 * does not load is one high finding, and nothing else can be checked.
 */
export async function runDoctor(io: CliIo, options: RunDoctorOptions): Promise<DoctorReport> {
  const located = await locateDeployment(io, options);
  const { withinDays, now } = options;
  if (!('deployment' in located)) {
    return {
      ok: false,
      config: located.file,
      withinDays,
      findings: [{ severity: 'high', check: 'config.invalid', message: located.problem, file: located.file }],
    };
  }
  const { deployment } = located;
  const findings: DoctorFinding[] = deploymentFindings(deployment).map((finding) => ({
    severity: finding.severity,
    check: `config.${finding.check}`,
    message: finding.message,
  }));
  const tls = await checkTlsFiles(tlsFileSets(deployment), {
    now,
    withinDays,
    baseDir: dirname(deployment.file),
  });
  findings.push(...tls.findings);
  findings.push(...(await checkPkiFolder(io, deployment.dataDir, { now, withinDays, skip: tls.files })));
  findings.push(...(await checkSigningKeys(io, deployment)));
  findings.push(...(await checkAuditLog(deployment)));
  return {
    ok: findings.every((finding) => finding.severity !== 'high'),
    config: deployment.file,
    ...(located.stackFile === undefined ? {} : { stackFile: located.stackFile }),
    dataDir: deployment.dataDir,
    withinDays,
    findings: sortFindings(findings),
  };
}

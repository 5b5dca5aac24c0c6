import { existsSync } from 'node:fs';
import { listCertificates } from '../certs/list-certificates.js';
import { locatePki } from '../certs/locate-pki.js';
import type { CliIo } from '../io.js';
import { certificateExpiry } from './certificate-expiry.js';
import type { DoctorFinding } from './finding.js';
import { keyFileExposure } from './key-file-exposure.js';

export interface CheckPkiFolderOptions {
  readonly now: number;
  readonly withinDays: number;
  /** Files the TLS settings already covered: one finding per file. */
  readonly skip: ReadonlySet<string>;
}

/**
 * The development CA's folder (`<dataDir>/pki`, `gatehouse init` and `certs issue`), when there
 * is one: every certificate as `gatehouse certs list` sees it (the CA included), and the
 * permissions of each `NAME-key.pem`. The demo services' certificates are only found here.
 */
export async function checkPkiFolder(
  io: CliIo,
  dataDir: string,
  options: CheckPkiFolderOptions,
): Promise<DoctorFinding[]> {
  const pki = await locatePki(io, { dataDir });
  if (!existsSync(pki.folder)) return [];
  const findings: DoctorFinding[] = [];
  const entries = await listCertificates(pki, { withinDays: options.withinDays, now: options.now });
  for (const entry of entries) {
    if (!options.skip.has(entry.file)) {
      if (entry.status === 'unreadable') {
        findings.push({
          severity: 'high',
          check: 'pki.cert_unreadable',
          message: `development certificate ${entry.name}: ${entry.problem}`,
          file: entry.file,
        });
      } else {
        const finding = certificateExpiry(entry.details.notAfter, {
          checkPrefix: 'pki.cert',
          what: `development certificate ${entry.name}:`,
          file: entry.file,
          now: options.now,
          withinDays: options.withinDays,
        });
        if (finding !== undefined) findings.push(finding);
      }
    }
    const key = entry.name === 'ca' ? pki.ca.key : pki.filesOf(entry.name).key;
    if (options.skip.has(key)) continue;
    const exposure = await keyFileExposure(key, {
      check: 'pki.key_permissions',
      usedBy: `development certificate ${entry.name}`,
    });
    if (exposure !== undefined) findings.push(exposure);
  }
  return findings;
}

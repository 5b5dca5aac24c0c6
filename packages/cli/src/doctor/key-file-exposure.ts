import { stat } from 'node:fs/promises';
import type { DoctorFinding } from './finding.js';

export interface KeyFileExposureOptions {
  /** Id of the check (`tls.key_permissions`). */
  readonly check: string;
  /** Who uses the file, for the message (`gateway.listen.tls`). */
  readonly usedBy: string;
  /** What the file holds, for the message (default `the private key`). */
  readonly what?: string;
  /** NODE_ENV=production refuses any group or other access (the key-encryption key): always high. */
  readonly strict?: boolean;
}

const modeText = (mode: number): string => (mode & 0o777).toString(8).padStart(4, '0');

/**
 * A private key file anyone else on the machine can reach: any access for others is high, group
 * access a warning (a shared service group is sometimes intended). POSIX permissions only:
 * Windows reports no group or other bits. A missing file is left to the check that reads it.
 */
export async function keyFileExposure(
  file: string,
  options: KeyFileExposureOptions,
): Promise<DoctorFinding | undefined> {
  if (process.platform === 'win32') return undefined;
  let mode: number;
  try {
    mode = (await stat(file)).mode;
  } catch {
    return undefined;
  }
  const others = (mode & 0o007) !== 0;
  const group = (mode & 0o070) !== 0;
  if (!others && !group) return undefined;
  return {
    severity: others || options.strict === true ? 'high' : 'warning',
    check: options.check,
    message:
      `${options.usedBy}: ${options.what ?? 'the private key'} ${file} is accessible to ${others ? 'other users' : 'its group'} ` +
      `(mode ${modeText(mode)}); chmod 600 it`,
    file,
  };
}

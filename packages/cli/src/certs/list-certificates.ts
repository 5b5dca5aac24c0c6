import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { classifyExpiry, daysLeft, type ExpiryStatus } from './classify-expiry.js';
import type { PkiFolder } from './locate-pki.js';
import { readCertificate, type CertificateDetails } from './read-certificate.js';

/** One `*.pem` certificate of the pki folder: its details, or why it could not be read. */
export type ListedCertificate =
  | {
      readonly name: string;
      readonly file: string;
      readonly status: ExpiryStatus;
      readonly daysLeft: number;
      readonly details: CertificateDetails;
    }
  | { readonly name: string; readonly file: string; readonly status: 'unreadable'; readonly problem: string };

async function pemFiles(folder: string): Promise<string[]> {
  try {
    return await readdir(folder);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/**
 * Every certificate of the pki folder, the CA included, sorted by name: `NAME.pem`, skipping the
 * `NAME-key.pem` keys and the hidden temporary files of a write in progress.
 */
export async function listCertificates(
  pki: PkiFolder,
  options: { withinDays: number; now: number },
): Promise<ListedCertificate[]> {
  const names = (await pemFiles(pki.folder))
    .filter((file) => file.endsWith('.pem') && !file.endsWith('-key.pem') && !file.startsWith('.'))
    .map((file) => file.slice(0, -'.pem'.length))
    .sort();
  const listed: ListedCertificate[] = [];
  for (const name of names) {
    const file = join(pki.folder, `${name}.pem`);
    try {
      const details = readCertificate(await readFile(file, 'utf8'), file);
      listed.push({
        name,
        file,
        status: classifyExpiry(details.notAfter, options.now, options.withinDays),
        daysLeft: daysLeft(details.notAfter, options.now),
        details,
      });
    } catch (err) {
      listed.push({
        name,
        file,
        status: 'unreadable',
        problem: err instanceof Error ? err.message : String(err),
      });
    }
  }
  return listed;
}

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createDevCa, loadDevCa, type DevCa } from '@gatehouse/core';
import { CommandError } from '../io.js';
import type { PkiFolder } from './locate-pki.js';
import { readCertificate } from './read-certificate.js';
import { ensurePkiFolder, writeCertificatePair } from './write-certificate-pair.js';

export interface OpenedDevCa {
  readonly ca: DevCa;
  readonly notAfter: Date;
  /** True when this call created the CA (no `gatehouse init` yet). */
  readonly created: boolean;
}

/**
 * The development CA of the pki folder, as `gatehouse init` wrote it; with `create`, a new one
 * when there is none. Half a CA (certificate without key, or the reverse) is refused, never
 * replaced: certificates issued by it may be trusted somewhere.
 */
export async function openDevCa(
  pki: PkiFolder,
  options: { create: boolean; now: number },
): Promise<OpenedDevCa> {
  const hasCert = existsSync(pki.ca.cert);
  const hasKey = existsSync(pki.ca.key);
  if (!hasCert && !hasKey) {
    if (!options.create) {
      throw new CommandError(
        `no development CA in ${pki.folder} (gatehouse init or certs issue creates one)`,
      );
    }
    await ensurePkiFolder(pki.folder);
    const ca = await createDevCa({ commonName: 'Gatehouse Development CA' });
    await writeCertificatePair(pki.ca, ca);
    return { ca, notAfter: readCertificate(ca.certPem, pki.ca.cert).notAfter, created: true };
  }
  if (!hasCert || !hasKey) {
    throw new CommandError(
      `${pki.folder} holds ${hasCert ? 'ca.pem but no ca-key.pem' : 'ca-key.pem but no ca.pem'}: restore it, or use another --data-dir`,
    );
  }
  const certPem = await readFile(pki.ca.cert, 'utf8');
  const ca = await loadDevCa(certPem, await readFile(pki.ca.key, 'utf8'));
  const { notAfter } = readCertificate(certPem, pki.ca.cert);
  // Everything it signed would fail chain validation (RFC 5280 §6.1.3 (a)(2)).
  if (notAfter.getTime() <= options.now) {
    throw new CommandError(`the development CA ${pki.ca.cert} expired on ${notAfter.toISOString()}`);
  }
  await ensurePkiFolder(pki.folder);
  return { ca, notAfter, created: false };
}

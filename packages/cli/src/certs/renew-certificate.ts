import { readFile } from 'node:fs/promises';
import { CommandError } from '../io.js';
import { DAY_MS } from './classify-expiry.js';
import { isIssuedBy } from './is-issued-by.js';
import { issueNamedCertificate, type IssuedCertificate } from './issue-named-certificate.js';
import type { PkiFolder } from './locate-pki.js';
import type { OpenedDevCa } from './open-dev-ca.js';
import { readCertificate } from './read-certificate.js';

/** CA/Browser Forum Baseline Requirements §6.3.2: the longest TLS certificate browsers accept. */
export const MAX_VALIDITY_DAYS = 397;

export interface RenewCertificateOptions {
  /** Default: the lifetime of the certificate being renewed. */
  readonly validityDays?: number;
  readonly now: number;
}

/**
 * Issues NAME again with the same subject, SANs and usage and a new key (so a leaked key dies with
 * the old certificate). Only leaves of this development CA: renewing another CA's certificate here
 * would silently move it to a different trust anchor.
 */
export async function renewCertificate(
  pki: PkiFolder,
  authority: OpenedDevCa,
  name: string,
  options: RenewCertificateOptions,
): Promise<IssuedCertificate> {
  const files = pki.filesOf(name);
  const old = readCertificate(await readFile(files.cert, 'utf8'), files.cert);
  const refuse = (why: string) => new CommandError(`cannot renew ${name}: ${why}`);
  if (old.role === 'ca') throw refuse('it is a CA certificate');
  const issuer = readCertificate(authority.ca.certPem, pki.ca.cert).x509;
  if (!isIssuedBy(old.x509, issuer)) {
    throw refuse('it was not issued by the development CA of this data dir');
  }
  if (old.role === 'other') throw refuse('its extended key usage is neither serverAuth nor clientAuth');
  if (old.commonName === undefined) throw refuse(`its subject is not a single CN (${old.subject})`);
  if (old.sans.other.length > 0) throw refuse(`unsupported names: ${old.sans.other.join(', ')}`);
  const lifetime = Math.round((old.notAfter.getTime() - old.notBefore.getTime()) / DAY_MS);
  return issueNamedCertificate(pki, authority, {
    name,
    commonName: old.commonName,
    sans: old.sans,
    usage: old.role,
    validityDays: options.validityDays ?? Math.min(Math.max(lifetime, 1), MAX_VALIDITY_DAYS),
    now: options.now,
  });
}

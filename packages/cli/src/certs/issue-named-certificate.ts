import { existsSync } from 'node:fs';
import type { CertificateUsage } from '@gatehouse/core';
import { CommandError } from '../io.js';
import { DAY_MS } from './classify-expiry.js';
import type { CertificateFiles, PkiFolder } from './locate-pki.js';
import type { OpenedDevCa } from './open-dev-ca.js';
import { readCertificate, type CertificateDetails } from './read-certificate.js';
import type { SubjectAltNames } from './subject-alt-names.js';
import { writeCertificatePair } from './write-certificate-pair.js';

export interface IssueNamedCertificateOptions {
  /** Checked by `checkCertificateName`; also the subject CN, as `gatehouse init` names its leaves. */
  readonly name: string;
  /** Checked by `checkSubjectAltNames`. */
  readonly sans: SubjectAltNames;
  readonly usage: CertificateUsage;
  readonly validityDays: number;
  /** Keep the subject of a certificate being renewed instead of CN=NAME. */
  readonly commonName?: string;
  readonly now: number;
}

export interface IssuedCertificate {
  readonly name: string;
  readonly files: CertificateFiles;
  readonly details: CertificateDetails;
}

/** `certs issue` replaces nothing without `--force`; checked before a CA is created for it. */
export function refuseExistingCertificate(pki: PkiFolder, name: string): void {
  const files = pki.filesOf(name);
  if (existsSync(files.cert) || existsSync(files.key)) {
    throw new CommandError(`${files.cert} exists: --force replaces it, or certs renew ${name}`);
  }
}

/**
 * Issues `<pki>/NAME.pem` and `NAME-key.pem` from the development CA, with a new key each time,
 * replacing what was there.
 */
export async function issueNamedCertificate(
  pki: PkiFolder,
  { ca, notAfter: caNotAfter }: OpenedDevCa,
  options: IssueNamedCertificateOptions,
): Promise<IssuedCertificate> {
  const files = pki.filesOf(options.name);
  if (options.now + options.validityDays * DAY_MS > caNotAfter.getTime()) {
    throw new CommandError(
      `the development CA expires on ${caNotAfter.toISOString()}, before a ${options.validityDays}-day certificate would`,
    );
  }
  const pair = await ca.issue({
    commonName: options.commonName ?? options.name,
    dns: options.sans.dns,
    ip: options.sans.ip,
    uri: options.sans.uri,
    usage: options.usage,
    validityDays: options.validityDays,
  });
  await writeCertificatePair(files, pair);
  return { name: options.name, files, details: readCertificate(pair.certPem, files.cert) };
}

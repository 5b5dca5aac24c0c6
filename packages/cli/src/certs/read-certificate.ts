import { X509Certificate } from 'node:crypto';
import { CommandError } from '../io.js';
import { parseSubjectAltNames, type ParsedSubjectAltNames } from './parse-subject-alt-names.js';

/** What a certificate is for: the CA, or its RFC 5280 §4.2.1.12 extended key usage. */
export type CertificateRole = 'ca' | 'server' | 'client' | 'both' | 'other';

/** A certificate as `certs` shows and renews it. */
export interface CertificateDetails {
  readonly subject: string;
  /** The common name when the subject is exactly one CN (what the development CA issues). */
  readonly commonName: string | undefined;
  readonly issuer: string;
  readonly role: CertificateRole;
  readonly sans: ParsedSubjectAltNames;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly serialNumber: string;
  readonly fingerprint256: string;
  readonly x509: X509Certificate;
}

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

function roleOf(cert: X509Certificate): CertificateRole {
  if (cert.ca) return 'ca';
  // Node names the extended key usage OIDs `keyUsage`, and leaves it undefined without the
  // extension (its typing says string[]).
  const eku = new Set((cert.keyUsage as readonly string[] | undefined) ?? []);
  const server = eku.has(SERVER_AUTH);
  const client = eku.has(CLIENT_AUTH);
  if (eku.size === 2 && server && client) return 'both';
  if (eku.size === 1 && server) return 'server';
  if (eku.size === 1 && client) return 'client';
  return 'other';
}

function commonNameOf(cert: X509Certificate): string | undefined {
  // The legacy object holds attribute values unescaped (the `subject` string is RFC 4514-escaped).
  const subject = cert.toLegacyObject().subject as Readonly<Record<string, unknown>>;
  const keys = Object.keys(subject);
  const cn = subject['CN'];
  return keys.length === 1 && typeof cn === 'string' ? cn : undefined;
}

/** Parses a PEM certificate (the first, when the file holds a chain). */
export function readCertificate(pem: string, file: string): CertificateDetails {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    throw new CommandError(`${file}: not a PEM certificate`);
  }
  return {
    subject: cert.subject,
    commonName: commonNameOf(cert),
    issuer: cert.issuer,
    role: roleOf(cert),
    sans: parseSubjectAltNames(cert.subjectAltName),
    notBefore: new Date(Date.parse(cert.validFrom)),
    notAfter: new Date(Date.parse(cert.validTo)),
    serialNumber: cert.serialNumber,
    fingerprint256: cert.fingerprint256,
    x509: cert,
  };
}

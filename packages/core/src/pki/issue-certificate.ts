import { X509Certificate as NodeX509Certificate, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import type * as X509 from '@peculiar/x509';
import { GatehouseError } from '../errors/gatehouse-error.js';
import type { CertificateAndKey, DevCa, IssueCertificateOptions } from './dev-ca.js';
import { loadX509 } from './load-x509.js';

type Peculiar = typeof X509;
type WebCrypto = Parameters<Peculiar['X509CertificateGenerator']['create']>[1];
type Key = webcrypto.CryptoKey;

/** Node's WebCrypto, handed to @peculiar/x509 per call rather than through its global provider. */
export const WEB_CRYPTO = webcrypto as unknown as NonNullable<WebCrypto>;
/** ECDSA P-256 with SHA-256 (RFC 5480, RFC 5758 §3.2): small keys every TLS stack accepts. */
export const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
/** Backdating absorbs clock skew between the issuing machine and its peers. */
const SKEW_MS = 5 * 60_000;
const LEAF_VALIDITY_DAYS = 365;

/** The CA's certificate (parsed), its signing key, and both as PEM. */
export interface Authority extends CertificateAndKey {
  readonly cert: X509.X509Certificate;
  readonly signingKey: Key;
}

export function invalid(detail: string): GatehouseError {
  return new GatehouseError('ERR_CONFIG_INVALID', { detail });
}

/**
 * RFC 5280 §4.1.2.2: a positive serial of at most 20 octets, unique per CA. 128 random bits
 * (top bit cleared so it stays positive, next bit set so DER keeps all 16 octets).
 */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString('hex');
}

export function checkValidityDays(days: number): number {
  if (!Number.isFinite(days) || days <= 0) throw invalid('validityDays must be a positive number');
  return days;
}

/** The validity window (RFC 5280 §4.1.2.5) from the options' defaults. */
export function resolveValidity(
  options: { readonly validityDays?: number; readonly notBefore?: Date; readonly notAfter?: Date },
  defaultDays: number,
): { notBefore: Date; notAfter: Date } {
  const lifetimeMs = checkValidityDays(options.validityDays ?? defaultDays) * DAY_MS;
  const notBefore =
    options.notBefore ??
    (options.notAfter === undefined
      ? new Date(Date.now() - SKEW_MS)
      : new Date(options.notAfter.getTime() - lifetimeMs));
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + lifetimeMs);
  if (!(notBefore.getTime() < notAfter.getTime())) throw invalid('notBefore must precede notAfter');
  return { notBefore, notAfter };
}

export async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return WEB_CRYPTO.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
}

/** PEM text ends with a newline, as OpenSSL and Node write it (files concatenate cleanly). */
export function certificatePem(cert: X509.X509Certificate): string {
  return `${cert.toString('pem')}\n`;
}

export async function exportKeyPem(x509: Peculiar, key: Key): Promise<string> {
  const pkcs8 = await WEB_CRYPTO.subtle.exportKey('pkcs8', key);
  return `${x509.PemConverter.encode(pkcs8, 'PRIVATE KEY')}\n`;
}

function checkSans(options: IssueCertificateOptions): void {
  if (options.commonName.length === 0) throw invalid('commonName must not be empty');
  for (const ip of options.ip ?? []) if (isIP(ip) === 0) throw invalid(`not an IP address: ${ip}`);
  for (const uri of options.uri ?? []) if (!URL.canParse(uri)) throw invalid(`not a URI: ${uri}`);
  for (const dns of options.dns ?? []) if (dns.length === 0) throw invalid('empty DNS name');
}

function subjectAltNames(options: IssueCertificateOptions): X509.JsonGeneralNames {
  return [
    ...(options.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.ip ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(options.uri ?? []).map((value) => ({ type: 'url' as const, value })),
  ];
}

function extendedKeyUsages(x509: Peculiar, usage: IssueCertificateOptions['usage']): string[] {
  const server: string = x509.ExtendedKeyUsage.serverAuth;
  const client: string = x509.ExtendedKeyUsage.clientAuth;
  if (usage === 'server') return [server];
  if (usage === 'client') return [client];
  return [server, client];
}

/** An end-entity certificate signed by the authority: no CA bit, SANs, the requested EKU. */
export async function issueCertificate(
  authority: Authority,
  options: IssueCertificateOptions,
): Promise<CertificateAndKey> {
  checkSans(options);
  const validity = resolveValidity(options, LEAF_VALIDITY_DAYS);
  const x509 = await loadX509();
  const keys = await generateKeys();
  const sans = subjectAltNames(options);
  const extensions: X509.Extension[] = [
    // RFC 5280 §4.2.1.9: only the CA asserts cA; leaves say so explicitly.
    new x509.BasicConstraintsExtension(false, undefined, true),
    // RFC 5280 §4.2.1.3: ECDSA leaves sign the TLS handshake, nothing else.
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(extendedKeyUsages(x509, options.usage), false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, WEB_CRYPTO),
    await x509.AuthorityKeyIdentifierExtension.create(authority.cert, false, WEB_CRYPTO),
  ];
  // RFC 5280 §4.2.1.6: an empty SAN extension is not allowed, so omit it when there are no names.
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans, false));
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      // JSON form: the common name is one attribute value, never parsed as an RFC 4514 string.
      subject: [{ CN: [options.commonName] }],
      issuer: authority.cert.subjectName,
      publicKey: keys.publicKey,
      signingKey: authority.signingKey,
      signingAlgorithm: KEY_ALGORITHM,
      ...validity,
      extensions,
    },
    WEB_CRYPTO,
  );
  return { certPem: certificatePem(cert), keyPem: await exportKeyPem(x509, keys.privateKey) };
}

/** The public face of an authority: its PEMs and `issue`. */
export function toDevCa(authority: Authority): DevCa {
  return {
    certPem: authority.certPem,
    keyPem: authority.keyPem,
    issue: (options) => issueCertificate(authority, options),
  };
}

/** Node's parser, for checks on PEM handed in from outside. */
export function parseCertificate(pem: string): NodeX509Certificate {
  try {
    return new NodeX509Certificate(pem);
  } catch (error) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      detail: 'CA certificate is not a PEM certificate',
      cause: error,
    });
  }
}

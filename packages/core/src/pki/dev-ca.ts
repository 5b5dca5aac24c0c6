/** What a certificate is for: RFC 5280 §4.2.1.12 extended key usage `serverAuth`, `clientAuth` or both. */
export type CertificateUsage = 'server' | 'client' | 'both';

export interface IssueCertificateOptions {
  /** Subject CN. Clients match the SAN, not the CN (RFC 6125 §6.4.4), so name servers in `dns`/`ip`. */
  readonly commonName: string;
  readonly dns?: readonly string[];
  readonly ip?: readonly string[];
  /** URI SANs, e.g. SPIFFE IDs (`spiffe://gatehouse/gateway`). */
  readonly uri?: readonly string[];
  readonly usage: CertificateUsage;
  /** Lifetime when `notAfter` is not given (default 365). */
  readonly validityDays?: number;
  /** Default: five minutes ago (clock skew), or `notAfter - validityDays` when only `notAfter` is given. */
  readonly notBefore?: Date;
  /** Default: `notBefore + validityDays`. A date in the past yields an expired certificate (tests). */
  readonly notAfter?: Date;
}

/** A certificate and its private key, both PEM (PKCS#8 for the key), ready for `node:tls`. */
export interface CertificateAndKey {
  readonly certPem: string;
  readonly keyPem: string;
}

/** A development certificate authority: its own certificate and key, and a way to issue leaves. */
export interface DevCa extends CertificateAndKey {
  issue(options: IssueCertificateOptions): Promise<CertificateAndKey>;
}

export interface CreateDevCaOptions {
  /** Default `Gatehouse Development CA`. */
  readonly commonName?: string;
  /** Default 3650. */
  readonly validityDays?: number;
}

import { classifyExpiry, daysLeft } from '../certs/classify-expiry.js';
import { isoSeconds, type DoctorFinding } from './finding.js';

export interface CertificateExpiryOptions {
  /** Check ids: `<prefix>_expired`, `<prefix>_expiring` (`tls.cert`, `tls.ca`, `pki.cert`). */
  readonly checkPrefix: string;
  /** What the certificate is, for the message (`gateway.listen.tls: certificate`). */
  readonly what: string;
  readonly file: string;
  readonly now: number;
  readonly withinDays: number;
}

/** Expired (RFC 5280 §4.1.2.5: notAfter is the last valid instant) is high; within the window, a warning. */
export function certificateExpiry(
  notAfter: Date,
  options: CertificateExpiryOptions,
): DoctorFinding | undefined {
  const status = classifyExpiry(notAfter, options.now, options.withinDays);
  if (status === 'ok') return undefined;
  const left = daysLeft(notAfter, options.now);
  const when = isoSeconds(notAfter);
  return status === 'expired'
    ? {
        severity: 'high',
        check: `${options.checkPrefix}_expired`,
        message: `${options.what} ${options.file} expired at ${when}`,
        file: options.file,
        notAfter: when,
        daysLeft: left,
      }
    : {
        severity: 'warning',
        check: `${options.checkPrefix}_expiring`,
        message:
          `${options.what} ${options.file} expires within ${options.withinDays} day(s): ` +
          `${left} day(s) left, notAfter ${when}`,
        file: options.file,
        notAfter: when,
        daysLeft: left,
      };
}

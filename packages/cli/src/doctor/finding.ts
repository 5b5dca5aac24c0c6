/** `high`: something is broken or unsafe now (exit 1); `warning`: fix it soon; `info`: for the record. */
export type DoctorSeverity = 'high' | 'warning' | 'info';

/** One finding of `gatehouse doctor`. */
export interface DoctorFinding {
  readonly severity: DoctorSeverity;
  /** Stable id of the check (`tls.cert_expiring`): what scripts match on, never the message. */
  readonly check: string;
  /** For the operator: names settings and files, never key material. */
  readonly message: string;
  /** The file concerned, absolute. */
  readonly file?: string;
  /** Expiry findings: the certificate's notAfter (ISO 8601, seconds) and whole days left. */
  readonly notAfter?: string;
  readonly daysLeft?: number;
  /** Signing-key findings: the key concerned. */
  readonly kid?: string;
}

const ORDER: Readonly<Record<DoctorSeverity, number>> = { high: 0, warning: 1, info: 2 };

/** High first, then warnings, then information; the order of the checks within each. */
export function sortFindings(findings: readonly DoctorFinding[]): DoctorFinding[] {
  return [...findings].sort((a, b) => ORDER[a.severity] - ORDER[b.severity]);
}

/** Instants as the other commands print them: ISO 8601 to the second. */
export const isoSeconds = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

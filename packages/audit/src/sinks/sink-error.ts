/**
 * Why a batch was not delivered. These errors stay inside the process (sink state, logs, metrics):
 * none reaches an HTTP client. Messages are fixed; `detail` names the destination by origin only
 * (never a path, query, header or credential).
 */
export type SinkErrorCode =
  /** Connection refused, reset or closed before the destination confirmed the batch. */
  | 'ERR_AUDIT_SINK_UNREACHABLE'
  /** No answer or no confirmation within the configured time. */
  | 'ERR_AUDIT_SINK_TIMEOUT'
  /** The TLS handshake failed (untrusted or mismatched certificate, protocol refused). */
  | 'ERR_AUDIT_SINK_TLS'
  /** The destination answered with a temporary failure (5xx, 408, 429). */
  | 'ERR_AUDIT_SINK_UNAVAILABLE'
  /** The destination refused the batch for good (4xx, 3xx): a configuration problem to fix. */
  | 'ERR_AUDIT_SINK_REJECTED'
  /** The destination broke its protocol (a malformed RELP frame, an answer to no request). */
  | 'ERR_AUDIT_SINK_PROTOCOL'
  /** A local write failed (file sink, stdout). */
  | 'ERR_AUDIT_SINK_WRITE'
  /** The delivery was abandoned by a stop. */
  | 'ERR_AUDIT_SINK_ABORTED'
  /** Reading the audit source failed (the store is unavailable). */
  | 'ERR_AUDIT_SINK_SOURCE'
  /** Saving the sink cursor failed: delivered events may be sent again after a restart. */
  | 'ERR_AUDIT_SINK_CURSOR';

const MESSAGES: Readonly<Record<SinkErrorCode, string>> = {
  ERR_AUDIT_SINK_UNREACHABLE: 'audit sink unreachable',
  ERR_AUDIT_SINK_TIMEOUT: 'audit sink timed out',
  ERR_AUDIT_SINK_TLS: 'audit sink TLS handshake failed',
  ERR_AUDIT_SINK_UNAVAILABLE: 'audit sink temporarily unavailable',
  ERR_AUDIT_SINK_REJECTED: 'audit sink rejected the batch',
  ERR_AUDIT_SINK_PROTOCOL: 'audit sink broke its protocol',
  ERR_AUDIT_SINK_WRITE: 'audit sink write failed',
  ERR_AUDIT_SINK_ABORTED: 'audit sink delivery abandoned',
  ERR_AUDIT_SINK_SOURCE: 'audit sink could not read the audit store',
  ERR_AUDIT_SINK_CURSOR: 'audit sink could not save its cursor',
};

export interface SinkErrorOptions {
  readonly detail?: string;
  readonly cause?: unknown;
}

export class SinkError extends Error {
  override readonly name = 'SinkError';
  readonly code: SinkErrorCode;
  /** A refusal that retrying will not fix without a change on either side (alert-worthy). */
  readonly permanent: boolean;
  readonly detail: string | undefined;

  constructor(code: SinkErrorCode, options: SinkErrorOptions = {}) {
    super(MESSAGES[code], options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.permanent = code === 'ERR_AUDIT_SINK_REJECTED';
    this.detail = options.detail;
  }
}

export function isSinkError(value: unknown): value is SinkError {
  return value instanceof SinkError;
}

/** Any failure as a `SinkError`: what the delivery loop records and logs. */
export function toSinkError(err: unknown, fallback: SinkErrorCode = 'ERR_AUDIT_SINK_UNREACHABLE'): SinkError {
  if (isSinkError(err)) return err;
  const detail = err instanceof Error ? describeSystemError(err) : undefined;
  return new SinkError(fallback, { ...(detail === undefined ? {} : { detail }), cause: err });
}

/** `ECONNREFUSED` and the like: the system error code, never a message that could echo data. */
export function describeSystemError(err: Error): string | undefined {
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === 'string' ? code : undefined;
}

/** Node's certificate and TLS error codes (`CERT_HAS_EXPIRED`, `ERR_TLS_CERT_ALTNAME_INVALID`, `ERR_SSL_…`). */
export function isTlsErrorCode(code: string | undefined): boolean {
  return code !== undefined && /CERT|SSL|TLS|UNABLE_TO_|SIGNATURE/.test(code);
}

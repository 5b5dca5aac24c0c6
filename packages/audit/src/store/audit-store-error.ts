/**
 * Why the audit store refused a call. These stay inside the process (logs, CLI output): the
 * messages are fixed and `detail` names positions and field names, never a field's value.
 */
export type AuditStoreErrorCode =
  /** An event to append is malformed (missing field, wrong type, unparseable time, too long). */
  | 'ERR_AUDIT_EVENT_INVALID'
  /** The checkpoint signer returned something that is not a JWS of the checkpoint asked for. */
  | 'ERR_AUDIT_SIGNER_INVALID'
  /** Pruning was refused: no signed checkpoint at the seq, or the rows to remove do not verify. */
  | 'ERR_AUDIT_PRUNE_REFUSED'
  /** The rows since the last checkpoint do not verify, so the store will not sign them. */
  | 'ERR_AUDIT_CHAIN_BROKEN'
  /** A seq, limit or time range argument is out of range. */
  | 'ERR_AUDIT_ARGUMENT_INVALID';

const MESSAGES: Readonly<Record<AuditStoreErrorCode, string>> = {
  ERR_AUDIT_EVENT_INVALID: 'audit event is malformed',
  ERR_AUDIT_SIGNER_INVALID: 'checkpoint signer returned an unusable signature',
  ERR_AUDIT_PRUNE_REFUSED: 'audit log pruning refused',
  ERR_AUDIT_CHAIN_BROKEN: 'audit chain does not verify; nothing was signed',
  ERR_AUDIT_ARGUMENT_INVALID: 'audit store argument out of range',
};

export interface AuditStoreErrorOptions {
  readonly detail?: string;
  readonly cause?: unknown;
}

export class AuditStoreError extends Error {
  override readonly name = 'AuditStoreError';
  readonly code: AuditStoreErrorCode;
  readonly detail: string | undefined;

  constructor(code: AuditStoreErrorCode, options: AuditStoreErrorOptions = {}) {
    super(MESSAGES[code], options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.detail = options.detail;
  }
}

export function isAuditStoreError(value: unknown): value is AuditStoreError {
  return value instanceof AuditStoreError;
}

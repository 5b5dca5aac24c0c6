export {
  AuditStoreError,
  isAuditStoreError,
  type AuditStoreErrorCode,
  type AuditStoreErrorOptions,
} from './audit-store-error.js';
export { MAX_DETAILS_LENGTH, MAX_FIELD_LENGTH, PRUNE_ACTION, type AuditAppendInput } from './audit-row.js';
export { canonicalJson, type CanonicalValue } from './canonical-json.js';
export {
  CHECKPOINT_ALGORITHMS,
  CHECKPOINT_TYP,
  createAuditJwsSigner,
  verifyCheckpointJws,
  type AuditCheckpointPayload,
  type AuditKeyResolver,
  type AuditSigner,
  type CheckpointCheck,
  type CheckpointKeyContext,
  type RawAuditSigner,
} from './checkpoint-jws.js';
export {
  createAuditStore,
  MAX_READ_LIMIT,
  type AuditAppendResult,
  type AuditCheckpoint,
  type AuditLogHead,
  type AuditLogRecord,
  type AuditPruneOptions,
  type AuditPruneResult,
  type AuditStore,
  type AuditStoreOptions,
} from './create-audit-store.js';
export { exportAuditLog, type AuditExportDocument, type AuditExportOptions } from './export-audit-log.js';
export {
  AUDIT_GENESIS_HASH,
  canonicalAuditRecord,
  hashAuditRecord,
  type ChainedRecord,
} from './hash-record.js';
export { AUDIT_COMPONENT, auditMigrations, migrateAudit } from './migrations.js';
export type { AuditCheckpointTable, AuditLogDatabase, AuditLogTable } from './schema.js';
export {
  verifyAuditLog,
  type AuditProblem,
  type AuditProblemKind,
  type AuditVerifyOptions,
  type AuditVerifyResult,
} from './verify-audit-log.js';

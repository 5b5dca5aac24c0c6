import type { ColumnType } from 'kysely';

/**
 * A PostgreSQL `bigint` comes back as a string from a pool without an int8 parser (the pool of
 * `openSqlDatabase` has one); every seq and time fits a double, so reads convert to number.
 */
export type Int8Column = ColumnType<number | string, number, number>;

/**
 * The audit store's tables. Portable column conventions of `@gatehouse/core`: times are epoch
 * milliseconds (`bigint`), JSON is text. Both tables are append-only: the store has no update API
 * and deletes rows only when pruning behind a signed checkpoint.
 */
export interface AuditLogTable {
  /** Position in the chain: 1, 2, 3… with no gap (assigned under the chain lock). */
  seq: Int8Column;
  /** The event id given by the producer; unique, so a re-delivered event is stored once. */
  id: string;
  /** ECS `@timestamp` as epoch milliseconds. */
  time: Int8Column;
  action: string;
  outcome: string;
  component: string;
  actor_sub: string | null;
  actor_client_id: string | null;
  source_ip: string | null;
  target_type: string | null;
  target_id: string | null;
  decision: string | null;
  reason: string | null;
  request_id: string | null;
  /** `details` as canonical JSON text (RFC 8785), or null. */
  details: string | null;
  /** `hash` of the row before (64 zeros for seq 1). */
  prev_hash: string;
  /** Lowercase hex SHA-256 of the record's canonical form (see canonical-record.ts). */
  hash: string;
}

export interface AuditCheckpointTable {
  /** The chain head that was signed. */
  seq: Int8Column;
  /** `hash` of the row at `seq` when it was signed. */
  hash: string;
  created_at: Int8Column;
  kid: string;
  /** Compact JWS (RFC 7515 §7.1) over `{ seq, hash, time }`. */
  signature: string;
}

export interface AuditLogDatabase {
  audit_log: AuditLogTable;
  audit_checkpoints: AuditCheckpointTable;
}

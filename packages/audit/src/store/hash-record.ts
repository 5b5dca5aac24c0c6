import { createHash } from 'node:crypto';
import { canonicalJson, type CanonicalValue } from './canonical-json.js';
import type { AuditLogRow } from './read-rows.js';

/** `prev_hash` of the first record: 32 zero bytes in hex. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);

/** Everything a record's hash covers: every column but `hash` itself. */
export type ChainedRecord = Omit<AuditLogRow, 'hash'>;

/**
 * The canonical form of a record (format 1, documented in the package README): the RFC 8785
 * canonical JSON of one object with exactly these members, absent values as `null`:
 *
 *   action, actor_client_id, actor_sub, component, decision, details, id, outcome, prev_hash,
 *   reason, request_id, seq, source_ip, target_id, target_type, time
 *
 * `seq` and `time` (epoch ms) are JSON numbers; `details` is the stored JSON text parsed back into
 * an object (or `null`); every other member is the column's string. Throws when `details` is not
 * a JSON object (the stored text was altered).
 */
export function canonicalAuditRecord(record: ChainedRecord): string {
  const details = record.details === null ? null : parseDetails(record.details);
  const canonical: Record<string, CanonicalValue> = {
    action: record.action,
    actor_client_id: record.actor_client_id,
    actor_sub: record.actor_sub,
    component: record.component,
    decision: record.decision,
    details,
    id: record.id,
    outcome: record.outcome,
    prev_hash: record.prev_hash,
    reason: record.reason,
    request_id: record.request_id,
    seq: record.seq,
    source_ip: record.source_ip,
    target_id: record.target_id,
    target_type: record.target_type,
    time: record.time,
  };
  return canonicalJson(canonical);
}

/** Lowercase hex SHA-256 of the record's canonical form, UTF-8 encoded. */
export function hashAuditRecord(record: ChainedRecord): string {
  return createHash('sha256').update(canonicalAuditRecord(record), 'utf8').digest('hex');
}

function parseDetails(text: string): CanonicalValue {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new TypeError('details is not a JSON object');
  }
  return parsed as CanonicalValue;
}

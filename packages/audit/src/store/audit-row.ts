import type { AuditEvent, AuditOutcome } from '@gatehouse/core';
import { AuditStoreError } from './audit-store-error.js';
import { canonicalJson, LONE_SURROGATE } from './canonical-json.js';
import type { AuditLogRow } from './read-rows.js';

/** What a producer hands to `append`: the event and its id (unique; a re-delivery is a no-op). */
export interface AuditAppendInput {
  readonly id: string;
  readonly event: AuditEvent;
}

/** The columns an event fills (everything but the chain: `seq`, `prev_hash`, `hash`). */
export type AuditEventColumns = Omit<AuditLogRow, 'seq' | 'prev_hash' | 'hash'>;

/** Longest id, action, component or other text field (characters). */
export const MAX_FIELD_LENGTH = 2048;
/** Longest `details` as canonical JSON (characters). */
export const MAX_DETAILS_LENGTH = 16_384;

/** The action the store itself records when it prunes; producers cannot append it. */
export const PRUNE_ACTION = 'audit.prune';

const OUTCOMES: ReadonlySet<string> = new Set<AuditOutcome>(['success', 'failure', 'unknown']);
// ISO 8601 / RFC 3339 date-time with an explicit offset: a time without one is ambiguous.
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/i;

function invalid(index: number, field: string, why: string): AuditStoreError {
  return new AuditStoreError('ERR_AUDIT_EVENT_INVALID', { detail: `events[${index}].${field}: ${why}` });
}

/** A storable string: well-formed UTF-16, no NUL (PostgreSQL text refuses it), bounded. */
function requiredText(value: unknown, index: number, field: string): string {
  const checked = text(value, index, field);
  if (checked === null) return fail(invalid(index, field, 'missing'));
  if (checked.length === 0) return fail(invalid(index, field, 'empty'));
  return checked;
}

function text(value: unknown, index: number, field: string): string | null {
  if (value === undefined) return null;
  if (typeof value !== 'string') return fail(invalid(index, field, 'not a string'));
  if (value.length > MAX_FIELD_LENGTH) return fail(invalid(index, field, 'too long'));
  if (value.includes('\u0000') || LONE_SURROGATE.test(value)) {
    return fail(invalid(index, field, 'not storable text'));
  }
  return value;
}

function fail(error: AuditStoreError): never {
  throw error;
}

function object(value: unknown, index: number, field: string): Readonly<Record<string, unknown>> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(invalid(index, field, 'not an object'));
  }
  return value as Readonly<Record<string, unknown>>;
}

function detailsText(value: unknown, index: number): string | null {
  const details = object(value, index, 'details');
  if (details === undefined) return null;
  for (const [key, member] of Object.entries(details)) {
    requiredText(key, index, 'details');
    if (typeof member === 'string') text(member, index, `details.${key}`);
    else if (typeof member === 'number' ? !Number.isFinite(member) : typeof member !== 'boolean') {
      return fail(invalid(index, `details.${key}`, 'not a string, finite number or boolean'));
    }
  }
  const json = canonicalJson(details as Record<string, string | number | boolean>);
  if (json.length > MAX_DETAILS_LENGTH) return fail(invalid(index, 'details', 'too long'));
  return json;
}

/**
 * Checks one input (the whole batch is refused if any is malformed, naming its index and field,
 * never a value) and returns its columns. Times are normalised to epoch milliseconds.
 */
export function columnsFromInput(input: AuditAppendInput, index: number): AuditEventColumns {
  if (typeof input !== 'object' || (input as unknown) === null) fail(invalid(index, '', 'not an object'));
  const id = requiredText(input.id, index, 'id');
  const event = object(input.event, index, 'event');
  if (event === undefined) return fail(invalid(index, 'event', 'missing'));
  const time = requiredText(event['time'], index, 'time');
  const ms = TIMESTAMP.test(time) ? Date.parse(time) : Number.NaN;
  if (!Number.isFinite(ms)) fail(invalid(index, 'time', 'not an ISO 8601 time with an offset'));
  const action = requiredText(event['action'], index, 'action');
  if (action === PRUNE_ACTION) fail(invalid(index, 'action', 'reserved for the store'));
  const outcome = event['outcome'];
  if (typeof outcome !== 'string' || !OUTCOMES.has(outcome)) {
    fail(invalid(index, 'outcome', 'not success, failure or unknown'));
  }
  const decision = event['decision'];
  if (decision !== undefined && decision !== 'allow' && decision !== 'deny') {
    fail(invalid(index, 'decision', 'not allow or deny'));
  }
  const actor = object(event['actor'], index, 'actor');
  const target = object(event['target'], index, 'target');
  return {
    id,
    time: ms,
    action,
    outcome,
    component: requiredText(event['component'], index, 'component'),
    actor_sub: text(actor?.['sub'], index, 'actor.sub'),
    actor_client_id: text(actor?.['clientId'], index, 'actor.clientId'),
    source_ip: text(event['sourceIp'], index, 'sourceIp'),
    target_type: text(target?.['type'], index, 'target.type'),
    target_id: text(target?.['id'], index, 'target.id'),
    decision: (decision as string | undefined) ?? null,
    reason: text(event['reason'], index, 'reason'),
    request_id: text(event['requestId'], index, 'requestId'),
    details: detailsText(event['details'], index),
  };
}

/** The event a stored row holds (absent fields stay absent; the time as ISO 8601 in UTC). */
export function eventFromRow(row: AuditEventColumns): AuditEvent {
  const actor = {
    ...(row.actor_sub === null ? {} : { sub: row.actor_sub }),
    ...(row.actor_client_id === null ? {} : { clientId: row.actor_client_id }),
  };
  const target = {
    ...(row.target_type === null ? {} : { type: row.target_type }),
    ...(row.target_id === null ? {} : { id: row.target_id }),
  };
  return {
    time: new Date(row.time).toISOString(),
    action: row.action,
    outcome: row.outcome as AuditOutcome,
    component: row.component,
    ...(Object.keys(actor).length === 0 ? {} : { actor }),
    ...(row.source_ip === null ? {} : { sourceIp: row.source_ip }),
    ...(Object.keys(target).length === 0 ? {} : { target }),
    ...(row.decision === null ? {} : { decision: row.decision as 'allow' | 'deny' }),
    ...(row.reason === null ? {} : { reason: row.reason }),
    ...(row.request_id === null ? {} : { requestId: row.request_id }),
    ...(row.details === null
      ? {}
      : { details: JSON.parse(row.details) as Readonly<Record<string, string | number | boolean>> }),
  };
}

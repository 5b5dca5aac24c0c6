import type { AuditEvent } from '@gatehouse/core';

/** What the sinks read: one stored audit event with its position in the store. */
export interface AuditRecord {
  /** Position in the store, strictly increasing from 1 (ECS `event.sequence`). */
  readonly seq: number;
  /** Stable unique id of the record (ECS `event.id`): what a SIEM deduplicates on. */
  readonly id: string;
  readonly event: AuditEvent;
}

/**
 * The audit store as the sinks see it: read-only, in store order. Sinks only read, so a slow or
 * dead sink never blocks a producer; the store on disk is the backlog.
 */
export interface AuditSource {
  /** Up to `limit` records with `seq > afterSeq`, in increasing `seq` order. */
  read(afterSeq: number, limit: number): Promise<readonly AuditRecord[]>;
  /** The highest `seq` stored (0 when empty): the head the lag of a sink is measured from. */
  headSeq(): Promise<number>;
}

/** Where a sink's delivery position (the last `seq` delivered) is kept durably. */
export interface SinkCursor {
  /** The last delivered `seq`, 0 when nothing was delivered yet. */
  load(): Promise<number>;
  save(seq: number): Promise<void>;
}

/**
 * Delivers one batch to one destination. Resolves once the destination has the batch (as far as its
 * protocol can tell); rejects with a `SinkError` otherwise. Aborting `signal` abandons the batch.
 */
export interface SinkTransport {
  /** `file`, `stdout`, `syslog` or `webhook` (logs and state). */
  readonly kind: string;
  deliver(records: readonly AuditRecord[], signal: AbortSignal): Promise<void>;
  /** Releases connections and handles; the transport is not used afterwards. */
  close(): Promise<void>;
}

/** The few logger methods the sinks use (a pino logger from `createLogger` fits). */
export interface SinkLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

import type { Kysely } from 'kysely';
import { buildEcsDocument, type EcsDocument } from '../sinks/format/format-ecs.js';
import { eventFromRow } from './audit-row.js';
import { toEpochMs } from './create-audit-store.js';
import { streamRows } from './read-rows.js';
import type { AuditLogDatabase } from './schema.js';

export interface AuditExportOptions {
  /** Records with `@timestamp` at or after this time. */
  readonly from?: Date | string | number;
  /** Records with `@timestamp` before this time. */
  readonly to?: Date | string | number;
  /** Records after this seq only (resume a previous export). */
  readonly afterSeq?: number;
  /** Rows per query (default 1000). */
  readonly batchSize?: number;
}

/** An exported record: the sinks' ECS document plus the chain hash as ECS `event.hash`. */
export type AuditExportDocument = Omit<EcsDocument, 'event'> & {
  readonly event: EcsDocument['event'] & { readonly hash: string };
};

/**
 * The stored records in seq order as ECS documents (the same mapping the SIEM sinks send), streamed
 * page by page. `gatehouse audit export` prints each as one JSON line.
 */
export async function* exportAuditLog<DB>(
  database: Kysely<DB>,
  options: AuditExportOptions = {},
): AsyncGenerator<AuditExportDocument> {
  const db = database as unknown as Kysely<AuditLogDatabase>;
  const range = {
    ...(options.from === undefined ? {} : { fromMs: toEpochMs(options.from, 'from') }),
    ...(options.to === undefined ? {} : { toMs: toEpochMs(options.to, 'to') }),
    ...(options.afterSeq === undefined ? {} : { afterSeq: options.afterSeq }),
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
  };
  for await (const row of streamRows(db, range)) {
    const document = buildEcsDocument({ seq: row.seq, id: row.id, event: eventFromRow(row) });
    yield { ...document, event: { ...document.event, hash: row.hash } };
  }
}

import type { Kysely, Selectable } from 'kysely';
import type { AuditCheckpointTable, AuditLogDatabase, AuditLogTable } from './schema.js';

/** A row as read, with `seq` and `time` as numbers. */
export type AuditLogRow = Omit<Selectable<AuditLogTable>, 'seq' | 'time'> & { seq: number; time: number };
export type AuditCheckpointRow = Omit<Selectable<AuditCheckpointTable>, 'seq' | 'created_at'> & {
  seq: number;
  created_at: number;
};

/** Rows come back in pages of this many unless told otherwise: memory stays flat on any size. */
export const DEFAULT_BATCH_SIZE = 1000;

export function normalizeRow(row: Selectable<AuditLogTable>): AuditLogRow {
  return { ...row, seq: Number(row.seq), time: Number(row.time) };
}

export function normalizeCheckpoint(row: Selectable<AuditCheckpointTable>): AuditCheckpointRow {
  return { ...row, seq: Number(row.seq), created_at: Number(row.created_at) };
}

export interface RowRange {
  /** Rows with `seq` above this (default: all). */
  readonly afterSeq?: number;
  /** Rows with `seq` up to this one. */
  readonly throughSeq?: number;
  /** Rows with `time >= fromMs`. */
  readonly fromMs?: number;
  /** Rows with `time < toMs`. */
  readonly toMs?: number;
  readonly batchSize?: number;
}

/** Streams `audit_log` in `seq` order, one page per query (keyset pagination on the primary key). */
export async function* streamRows(
  db: Kysely<AuditLogDatabase>,
  range: RowRange = {},
): AsyncGenerator<AuditLogRow> {
  const batchSize = range.batchSize ?? DEFAULT_BATCH_SIZE;
  let after = range.afterSeq ?? Number.MIN_SAFE_INTEGER;
  for (;;) {
    let query = db.selectFrom('audit_log').selectAll().where('seq', '>', after);
    if (range.throughSeq !== undefined) query = query.where('seq', '<=', range.throughSeq);
    if (range.fromMs !== undefined) query = query.where('time', '>=', range.fromMs);
    if (range.toMs !== undefined) query = query.where('time', '<', range.toMs);
    const page = await query.orderBy('seq').limit(batchSize).execute();
    for (const row of page) yield normalizeRow(row);
    const last = page.at(-1);
    if (last === undefined || page.length < batchSize) return;
    after = Number(last.seq);
  }
}

/** Streams `audit_checkpoints` in `seq` order, one page per query. */
export async function* streamCheckpoints(
  db: Kysely<AuditLogDatabase>,
  batchSize = DEFAULT_BATCH_SIZE,
): AsyncGenerator<AuditCheckpointRow> {
  let after = Number.MIN_SAFE_INTEGER;
  for (;;) {
    const page = await db
      .selectFrom('audit_checkpoints')
      .selectAll()
      .where('seq', '>', after)
      .orderBy('seq')
      .limit(batchSize)
      .execute();
    for (const row of page) yield normalizeCheckpoint(row);
    const last = page.at(-1);
    if (last === undefined || page.length < batchSize) return;
    after = Number(last.seq);
  }
}

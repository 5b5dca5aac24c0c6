import type { Kysely } from 'kysely';
import { hashAuditRecord } from './hash-record.js';
import { streamRows, type AuditLogRow } from './read-rows.js';
import type { AuditLogDatabase } from './schema.js';

/** A position the chain is known to pass through: a verified row, a checkpoint, or the genesis. */
export interface ChainPoint {
  readonly seq: number;
  readonly hash: string;
}

export interface ChainBreak {
  readonly seq: number;
  readonly why: string;
}

/** The row's own hash recomputed, or undefined when its stored `details` is not JSON (altered). */
export function recomputeHash(row: AuditLogRow): string | undefined {
  try {
    return hashAuditRecord(row);
  } catch {
    return undefined;
  }
}

/**
 * The first break in the rows after `start` through `throughSeq` (a missing seq, a `prev_hash`
 * that does not link, or a row whose hash does not recompute), or undefined when they chain. The
 * quick check run before signing or pruning; `verifyAuditLog` explains a break in more detail.
 */
export async function findChainBreak(
  db: Kysely<AuditLogDatabase>,
  start: ChainPoint,
  throughSeq: number,
): Promise<ChainBreak | undefined> {
  let prev = start;
  for await (const row of streamRows(db, { afterSeq: start.seq, throughSeq })) {
    if (row.seq !== prev.seq + 1) return { seq: prev.seq + 1, why: 'row missing' };
    if (row.prev_hash !== prev.hash) return { seq: row.seq, why: 'prev_hash does not link' };
    if (recomputeHash(row) !== row.hash) return { seq: row.seq, why: 'hash does not match the record' };
    prev = { seq: row.seq, hash: row.hash };
  }
  return prev.seq === throughSeq ? undefined : { seq: prev.seq + 1, why: 'row missing' };
}

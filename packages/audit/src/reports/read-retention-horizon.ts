import type { Kysely } from 'kysely';
import type { AuditLogDatabase } from '../store/schema.js';
import type { ReportPeriod } from './select-records.js';

/** Where a pruned log starts: a report of an earlier period cannot be complete. */
export interface RetentionHorizon {
  /** Every record through this seq was pruned. */
  readonly prunedThroughSeq: number;
  /**
   * ISO 8601: when the checkpoint the log was pruned through was signed. Every pruned record was
   * stored before it; records from this time on are all still there.
   */
  readonly horizon: string;
}

/**
 * The retention horizon of the audit store, or undefined when nothing was ever pruned (the log
 * starts at seq 1, or is empty). Reads two rows.
 */
export async function readRetentionHorizon<DB>(database: Kysely<DB>): Promise<RetentionHorizon | undefined> {
  const db = database as unknown as Kysely<AuditLogDatabase>;
  const first = await db.selectFrom('audit_log').select('seq').orderBy('seq').limit(1).executeTakeFirst();
  const firstSeq = first === undefined ? undefined : Number(first.seq);
  const through = firstSeq === undefined ? undefined : firstSeq - 1;
  if (through === undefined || through < 1) return undefined;
  const anchor = await db
    .selectFrom('audit_checkpoints')
    .select('created_at')
    .where('seq', '=', through)
    .executeTakeFirst();
  // A log starting after seq 1 without its checkpoint does not verify; the report still says so.
  const horizon = anchor === undefined ? Number.POSITIVE_INFINITY : Number(anchor.created_at);
  return {
    prunedThroughSeq: through,
    horizon: Number.isFinite(horizon) ? new Date(horizon).toISOString() : 'unknown',
  };
}

/**
 * What a report of `period` must say about a pruned log: nothing when the period starts at or after
 * the horizon, otherwise that it is incomplete (or, wholly before the horizon, that its records were
 * pruned) — instead of an empty report that reads as "nothing happened".
 */
export function retentionWarnings(period: ReportPeriod, horizon: RetentionHorizon | undefined): string[] {
  if (horizon === undefined) return [];
  const at = Date.parse(horizon.horizon);
  const from = period.from === undefined ? undefined : Date.parse(period.from);
  const to = period.to === undefined ? undefined : Date.parse(period.to);
  if (from !== undefined && Number.isFinite(at) && from >= at) return [];
  const pruned = `records through seq ${horizon.prunedThroughSeq} were pruned (retention); the log is complete from ${horizon.horizon}`;
  if (to !== undefined && Number.isFinite(at) && to <= at) {
    return [`the period is before the retention horizon: ${pruned}, so this report cannot show that period`];
  }
  return [`the period starts before the retention horizon: ${pruned} only`];
}

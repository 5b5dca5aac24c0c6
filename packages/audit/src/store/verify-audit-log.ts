import type { Kysely } from 'kysely';
import { PRUNE_ACTION } from './audit-row.js';
import { verifyCheckpointJws, type AuditKeyResolver } from './checkpoint-jws.js';
import type { AuditLogHead } from './create-audit-store.js';
import { recomputeHash } from './find-chain-break.js';
import { AUDIT_GENESIS_HASH } from './hash-record.js';
import {
  DEFAULT_BATCH_SIZE,
  normalizeRow,
  streamCheckpoints,
  streamRows,
  type AuditCheckpointRow,
  type AuditLogRow,
} from './read-rows.js';
import type { AuditLogDatabase } from './schema.js';

export type AuditProblemKind =
  'altered' | 'removed' | 'inserted' | 'reordered' | 'truncated' | 'bad_signature';

export interface AuditProblem {
  /** The first seq found bad (for `removed` and `truncated`: the first missing one). */
  readonly seq: number;
  readonly kind: AuditProblemKind;
  /** What was found, in words; seqs and kids only, never field values. */
  readonly detail: string;
}

export interface AuditVerifyOptions {
  /** The public key of a checkpoint's `kid`, retired keys included. */
  readonly resolveKey: AuditKeyResolver;
  /** Rows (and checkpoints) per query (default 1000). */
  readonly batchSize?: number;
}

export interface AuditVerifyResult {
  readonly ok: boolean;
  /** Rows verified before the first problem (all rows when ok). */
  readonly checked: number;
  /** Checkpoints whose signature verified. */
  readonly checkpoints: number;
  /** The last verified row (`seq` 0 and the genesis hash when none). */
  readonly head: AuditLogHead;
  readonly firstProblem?: AuditProblem;
}

/** How far a renumbered row is searched for its original seq before it is called altered. */
const MAX_RENUMBER_SHIFT = 10_000;

/** A point the chain verifiably passes through: a verified row, a signed checkpoint, the genesis. */
interface Verified {
  readonly seq: number;
  readonly hash: string;
  /** Whether `seq` is a row of the table (not the genesis or a prune anchor). */
  readonly isRow: boolean;
}

class Peekable<T> {
  private next: IteratorResult<T> | undefined;
  constructor(private readonly iterator: AsyncIterator<T>) {}
  async peek(): Promise<T | undefined> {
    this.next ??= await this.iterator.next();
    return this.next.done === true ? undefined : this.next.value;
  }
  async take(): Promise<T | undefined> {
    const value = await this.peek();
    if (value !== undefined) this.next = undefined;
    return value;
  }
}

/**
 * Verifies the whole log, streaming rows and checkpoints in seq order (memory stays flat): each
 * row's hash recomputes (hash-record.ts), links to the row before and follows it without a gap;
 * each checkpoint's JWS verifies with its kid's key and matches the row at its seq; no signed
 * checkpoint lies past the last row; a log that starts after seq 1 starts right after a signed
 * checkpoint and holds the `audit.prune` record of it. Stops at the first problem and names it.
 *
 * Limits: rows after the latest checkpoint are protected by the chain alone, so a writer of the
 * database who recomputes hashes can rewrite or cut them undetected until the next checkpoint.
 */
export async function verifyAuditLog<DB>(
  database: Kysely<DB>,
  options: AuditVerifyOptions,
): Promise<AuditVerifyResult> {
  const db = database as unknown as Kysely<AuditLogDatabase>;
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const checkpoints = new Peekable(streamCheckpoints(db, batchSize)[Symbol.asyncIterator]());
  let checked = 0;
  let signed = 0;
  let prev: Verified | undefined;
  /** Set when the log starts after a prune: the checkpoint seq it starts from. */
  let anchorSeq: number | undefined;
  const prunedThrough = new Set<number>();
  let lastMatched = 0;

  const done = (firstProblem?: AuditProblem): AuditVerifyResult => ({
    ok: firstProblem === undefined,
    checked,
    checkpoints: signed,
    head: prev?.isRow === true ? { seq: prev.seq, hash: prev.hash } : { seq: 0, hash: AUDIT_GENESIS_HASH },
    ...(firstProblem === undefined ? {} : { firstProblem }),
  });

  async function checkSignature(cp: AuditCheckpointRow): Promise<AuditProblem | undefined> {
    const check = await verifyCheckpointJws(cp.signature, cp.kid, options.resolveKey, {
      seq: cp.seq,
      createdAt: cp.created_at,
    });
    if (!check.ok)
      return { seq: cp.seq, kind: 'bad_signature', detail: `checkpoint at seq ${cp.seq}: ${check.why}` };
    if (check.payload.seq !== cp.seq || check.payload.hash !== cp.hash) {
      return {
        seq: cp.seq,
        kind: 'bad_signature',
        detail: `checkpoint at seq ${cp.seq}: its seq or hash column differs from the signed payload`,
      };
    }
    signed++;
    return undefined;
  }

  for await (const row of streamRows(db, { batchSize })) {
    if (prev === undefined) {
      // Checkpoints before the first row vouch for pruned history: signatures only. The one
      // right before the first row is where a pruned log starts.
      let anchor: AuditCheckpointRow | undefined;
      for (
        let cp = await checkpoints.peek();
        cp !== undefined && cp.seq < row.seq;
        cp = await checkpoints.peek()
      ) {
        await checkpoints.take();
        const problem = await checkSignature(cp);
        if (problem !== undefined) return done(problem);
        anchor = cp;
      }
      if (row.seq < 1) {
        return done({ seq: row.seq, kind: 'inserted', detail: `a row with seq ${row.seq}: seqs start at 1` });
      }
      if (row.seq === 1) {
        prev = { seq: 0, hash: AUDIT_GENESIS_HASH, isRow: false };
      } else if (anchor?.seq === row.seq - 1) {
        prev = { seq: anchor.seq, hash: anchor.hash, isRow: false };
        anchorSeq = anchor.seq;
      } else {
        return done({
          seq: anchor === undefined ? 1 : anchor.seq + 1,
          kind: 'removed',
          detail: `the log starts at seq ${row.seq} and no signed checkpoint at seq ${row.seq - 1} anchors a prune`,
        });
      }
    }
    const expected = prev.seq + 1;
    if (row.seq !== expected) {
      return done({
        seq: expected,
        kind: 'removed',
        detail:
          row.seq === expected + 1
            ? `row ${expected} is missing`
            : `rows ${expected}..${row.seq - 1} are missing`,
      });
    }
    const recomputed = recomputeHash(row);
    const selfOk = recomputed === row.hash;
    const linkOk = row.prev_hash === prev.hash;
    if (!selfOk || !linkOk) return done(await classify(db, prev, row, recomputed, linkOk));
    checked++;
    prev = { seq: row.seq, hash: row.hash, isRow: true };
    if (row.component === 'audit' && row.action === PRUNE_ACTION) {
      const through = prunedThroughOf(row);
      if (through !== undefined) prunedThrough.add(through);
    }
    const cp = await checkpoints.peek();
    if (cp?.seq === row.seq) {
      await checkpoints.take();
      const problem = await checkSignature(cp);
      if (problem !== undefined) return done(problem);
      if (cp.hash !== row.hash) {
        return done({
          seq: row.seq,
          kind: 'truncated',
          detail: `row ${row.seq} is not the record its signed checkpoint vouches for: the log after seq ${lastMatched} was cut and written again`,
        });
      }
      lastMatched = row.seq;
    }
  }

  if (anchorSeq !== undefined && !prunedThrough.has(anchorSeq)) {
    const accounted = [...prunedThrough].filter((seq) => seq < anchorSeq);
    return done({
      seq: accounted.length === 0 ? 1 : Math.max(...accounted) + 1,
      kind: 'removed',
      detail: `rows through seq ${anchorSeq} are gone and no audit.prune record accounts for them`,
    });
  }
  for (let cp = await checkpoints.take(); cp !== undefined; cp = await checkpoints.take()) {
    const problem = await checkSignature(cp);
    if (problem !== undefined) return done(problem);
    const missing = (prev?.seq ?? 0) + 1;
    return done({
      seq: missing,
      kind: 'truncated',
      detail: `the log ends at seq ${missing - 1} but a signed checkpoint vouches for seq ${cp.seq}`,
    });
  }
  return done();
}

function prunedThroughOf(row: AuditLogRow): number | undefined {
  if (row.details === null) return undefined;
  const details = JSON.parse(row.details) as Record<string, unknown>;
  const through = details['throughSeq'];
  return typeof through === 'number' ? through : undefined;
}

/**
 * Names what happened at the first row that does not verify, from where the records involved
 * are now: the record that should follow `prev` (whose `prev_hash` is `prev.hash`), and the record
 * `row` was chained after (whose hash is `row.prev_hash`). Two lookups by value, at most once
 * per verification.
 */
async function classify(
  db: Kysely<AuditLogDatabase>,
  prev: Verified,
  row: AuditLogRow,
  recomputed: string | undefined,
  linkOk: boolean,
): Promise<AuditProblem> {
  const seq = row.seq;
  const selfOk = recomputed === row.hash;
  const successorOfPrev = async (): Promise<AuditLogRow | undefined> => {
    const found = await db
      .selectFrom('audit_log')
      .selectAll()
      .where('prev_hash', '=', prev.hash)
      .where('seq', '<>', seq)
      .orderBy('seq')
      .limit(1)
      .executeTakeFirst();
    return found === undefined ? undefined : normalizeRow(found);
  };

  if (linkOk) {
    // The row follows the verified chain but its own hash is wrong: edited in place, unless the
    // record that belongs here sits further on (a forged row pushed it along).
    const genuine = await successorOfPrev();
    if (genuine !== undefined) {
      return {
        seq,
        kind: 'inserted',
        detail: `row ${seq} does not verify and the record chained after seq ${prev.seq} is at seq ${genuine.seq}`,
      };
    }
    return {
      seq,
      kind: 'altered',
      detail: `row ${seq}: ${recomputed === undefined ? 'details is not a JSON object' : 'the stored hash does not match the record'}`,
    };
  }
  if (selfOk) {
    // The row is intact but was chained after another record than the one before it.
    return prev.isRow
      ? {
          seq: prev.seq,
          kind: 'altered',
          detail: `row ${prev.seq} is not the record row ${seq} was chained after: it was rewritten with a recomputed hash`,
        }
      : {
          seq,
          kind: 'altered',
          detail: `row ${seq} does not link to ${prev.seq === 0 ? 'the start of the chain' : `the signed checkpoint at seq ${prev.seq}`}`,
        };
  }
  const predecessorRow = await db
    .selectFrom('audit_log')
    .selectAll()
    .where('hash', '=', row.prev_hash)
    .orderBy('seq')
    .limit(1)
    .executeTakeFirst();
  const predecessor = predecessorRow === undefined ? undefined : normalizeRow(predecessorRow);
  if (predecessor !== undefined && prev.isRow && predecessor.seq === prev.seq - 1) {
    return {
      seq: prev.seq,
      kind: 'inserted',
      detail: `row ${prev.seq} was inserted: the record now at seq ${seq} was chained directly after seq ${predecessor.seq}, and later rows were renumbered`,
    };
  }
  const genuine = await successorOfPrev();
  if (genuine !== undefined && predecessor === undefined) {
    return {
      seq,
      kind: 'inserted',
      detail: `row ${seq} is chained to no stored record and the record chained after seq ${prev.seq} is at seq ${genuine.seq}`,
    };
  }
  if (genuine !== undefined || predecessor !== undefined) {
    return {
      seq,
      kind: 'reordered',
      detail:
        predecessor === undefined
          ? `row ${seq} is out of place`
          : `row ${seq} holds the record chained after seq ${predecessor.seq}${genuine === undefined ? '' : `; the record chained after seq ${prev.seq} is at seq ${genuine.seq}`}`,
    };
  }
  const original = originalSeq(row);
  if (original !== undefined && original > seq) {
    return {
      seq,
      kind: 'removed',
      detail: `row ${seq} holds the record of seq ${original}: ${original - seq === 1 ? `row ${seq} was` : `rows ${seq}..${original - 1} were`} removed and later rows renumbered`,
    };
  }
  if (original !== undefined) {
    return { seq, kind: 'reordered', detail: `row ${seq} holds the record of seq ${original}` };
  }
  return { seq, kind: 'altered', detail: `row ${seq}: neither its hash nor its link matches any record` };
}

/** The seq a row's hash was computed with, searched near its current seq (renumbered rows). */
function originalSeq(row: AuditLogRow): number | undefined {
  for (let shift = 1; shift <= MAX_RENUMBER_SHIFT; shift++) {
    for (const seq of [row.seq + shift, row.seq - shift]) {
      if (seq >= 1 && recomputeHash({ ...row, seq }) === row.hash) return seq;
    }
  }
  return undefined;
}

import type { AuditActor, AuditEvent } from '@gatehouse/core';
import type { Kysely, Selectable } from 'kysely';
import { AuditStoreError } from './audit-store-error.js';
import {
  columnsFromInput,
  eventFromRow,
  PRUNE_ACTION,
  type AuditAppendInput,
  type AuditEventColumns,
} from './audit-row.js';
import { canonicalJson } from './canonical-json.js';
import { inChainTransaction } from './chain-lock.js';
import {
  CHECKPOINT_ALGORITHMS,
  CHECKPOINT_TYP,
  decodeCheckpointHeader,
  decodeCheckpointPayload,
  type AuditSigner,
} from './checkpoint-jws.js';
import { findChainBreak, type ChainPoint } from './find-chain-break.js';
import { AUDIT_GENESIS_HASH, hashAuditRecord } from './hash-record.js';
import { normalizeCheckpoint, normalizeRow, type AuditLogRow } from './read-rows.js';
import type { AuditCheckpointTable, AuditLogDatabase } from './schema.js';

export interface AuditStoreOptions {
  /** Clock for checkpoint and prune times, epoch milliseconds (default `Date.now`). */
  readonly now?: () => number;
}

export interface AuditAppendResult {
  /** The seq of each input, in input order; for an id stored before, the seq it has. */
  readonly seqs: readonly number[];
  /** How many rows this call added (the others were stored already). */
  readonly inserted: number;
}

/** One stored record as consumers (sinks, export, reports) read it. */
export interface AuditLogRecord {
  readonly seq: number;
  readonly id: string;
  readonly event: AuditEvent;
  /** The record's chain hash (ECS `event.hash`). */
  readonly hash: string;
}

/** The newest record: `seq` 0 and the genesis hash while the log is empty. */
export interface AuditLogHead {
  readonly seq: number;
  readonly hash: string;
}

export interface AuditCheckpoint {
  readonly seq: number;
  readonly hash: string;
  readonly kid: string;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  /** The compact JWS over `{ seq, hash, time }`. */
  readonly jws: string;
}

export interface AuditPruneOptions {
  /** Who asked for the pruning (recorded in the `audit.prune` event). */
  readonly actor?: AuditActor;
}

export interface AuditPruneResult {
  /** Rows removed (0 when everything through `throughSeq` was pruned before). */
  readonly pruned: number;
  readonly throughSeq: number;
  /** The `audit.prune` record that accounts for the removed rows. */
  readonly event?: { readonly seq: number; readonly id: string };
  /** The checkpoint signed over the head that includes that record. */
  readonly checkpoint?: AuditCheckpoint;
}

/**
 * The hash-chained audit log. Append-only: there is no update or delete, and rows are removed only
 * by `prune`, behind a signed checkpoint and with a record of it in the chain.
 */
export interface AuditStore {
  /**
   * Appends events in one transaction under the chain lock (any number of processes may append to
   * one database); an id already stored is skipped. The whole batch is refused, naming the index,
   * if one event is malformed.
   */
  append(events: readonly AuditAppendInput[]): Promise<AuditAppendResult>;
  /** Up to `limit` records with `seq > afterSeq`, in seq order. */
  read(afterSeq: number, limit: number): Promise<AuditLogRecord[]>;
  head(): Promise<AuditLogHead>;
  /** `head().seq`: the sinks' view of the store. */
  headSeq(): Promise<number>;
  /**
   * Signs the current head (a compact JWS over `{ seq, hash, time }`) and stores it, after checking
   * the rows since the previous checkpoint chain; returns the latest checkpoint unchanged when the
   * head has not moved, and undefined while the log is empty.
   */
  checkpoint(signer: AuditSigner): Promise<AuditCheckpoint | undefined>;
  latestCheckpoint(): Promise<AuditCheckpoint | undefined>;
  /** The newest checkpoint whose record was written before `time`: the point to prune through. */
  latestCheckpointBefore(time: Date | string | number): Promise<AuditCheckpoint | undefined>;
  /**
   * Removes the rows with `seq <= throughSeq`. Refused unless a checkpoint exists at exactly
   * `throughSeq` and the rows to remove chain up to its hash; appends an `audit.prune` record and
   * signs a checkpoint over it, so the remaining log verifies from the checkpoint.
   */
  prune(throughSeq: number, signer: AuditSigner, options?: AuditPruneOptions): Promise<AuditPruneResult>;
}

/** Rows per INSERT (17 parameters each: under SQLite's and PostgreSQL's parameter limits). */
const INSERT_CHUNK = 500;
/** Most records one `read` returns. */
export const MAX_READ_LIMIT = 10_000;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function argument(detail: string): AuditStoreError {
  return new AuditStoreError('ERR_AUDIT_ARGUMENT_INVALID', { detail });
}

/** Epoch milliseconds of a time argument (an ISO string must carry an offset or `Z`). */
export function toEpochMs(value: Date | string | number, name: string): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) throw argument(`${name} is not a time`);
  return ms;
}

async function readHead(db: Kysely<AuditLogDatabase>): Promise<AuditLogHead> {
  const row = await db
    .selectFrom('audit_log')
    .select(['seq', 'hash'])
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row === undefined ? { seq: 0, hash: AUDIT_GENESIS_HASH } : { seq: Number(row.seq), hash: row.hash };
}

async function firstSeq(db: Kysely<AuditLogDatabase>): Promise<number | undefined> {
  const row = await db.selectFrom('audit_log').select('seq').orderBy('seq').limit(1).executeTakeFirst();
  return row === undefined ? undefined : Number(row.seq);
}

function toCheckpoint(row: Selectable<AuditCheckpointTable>): AuditCheckpoint {
  const cp = normalizeCheckpoint(row);
  return { seq: cp.seq, hash: cp.hash, kid: cp.kid, createdAt: cp.created_at, jws: cp.signature };
}

/**
 * Chains and inserts events after the head, inside a chain transaction: one query for ids already
 * stored, one for the head, then one multi-row INSERT per INSERT_CHUNK rows.
 */
async function appendColumns(
  trx: Kysely<AuditLogDatabase>,
  columns: readonly AuditEventColumns[],
): Promise<AuditAppendResult> {
  const known = new Map<string, number>();
  for (const ids of chunks([...new Set(columns.map((c) => c.id))], INSERT_CHUNK)) {
    const rows = await trx.selectFrom('audit_log').select(['id', 'seq']).where('id', 'in', ids).execute();
    for (const row of rows) known.set(row.id, Number(row.seq));
  }
  const head = await readHead(trx);
  let seq = head.seq;
  let prev = head.hash;
  const rows: AuditLogRow[] = [];
  const seqs = columns.map((c) => {
    const stored = known.get(c.id);
    if (stored !== undefined) return stored;
    seq += 1;
    const chained = { ...c, seq, prev_hash: prev };
    prev = hashAuditRecord(chained);
    rows.push({ ...chained, hash: prev });
    known.set(c.id, seq);
    return seq;
  });
  for (const chunk of chunks(rows, INSERT_CHUNK)) await trx.insertInto('audit_log').values(chunk).execute();
  return { seqs, inserted: rows.length };
}

export function createAuditStore<DB>(database: Kysely<DB>, options: AuditStoreOptions = {}): AuditStore {
  const db = database as unknown as Kysely<AuditLogDatabase>;
  const now = options.now ?? Date.now;

  async function checkpointAt(seq: number): Promise<AuditCheckpoint | undefined> {
    const row = await db
      .selectFrom('audit_checkpoints')
      .selectAll()
      .where('seq', '=', seq)
      .executeTakeFirst();
    return row === undefined ? undefined : toCheckpoint(row);
  }

  async function latestCheckpoint(): Promise<AuditCheckpoint | undefined> {
    const row = await db
      .selectFrom('audit_checkpoints')
      .selectAll()
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row === undefined ? undefined : toCheckpoint(row);
  }

  /** Where the quick chain check before signing starts: the last checkpoint, else the genesis. */
  function startOf(latest: AuditCheckpoint | undefined): ChainPoint {
    return latest === undefined
      ? { seq: 0, hash: AUDIT_GENESIS_HASH }
      : { seq: latest.seq, hash: latest.hash };
  }

  async function checkpoint(signer: AuditSigner): Promise<AuditCheckpoint | undefined> {
    const head = await readHead(db);
    if (head.seq === 0) return undefined;
    const latest = await latestCheckpoint();
    if (latest !== undefined && latest.seq === head.seq && latest.hash === head.hash) return latest;
    if (latest !== undefined && latest.seq >= head.seq) {
      throw new AuditStoreError('ERR_AUDIT_CHAIN_BROKEN', {
        detail: `head seq ${head.seq} is not past the latest checkpoint at seq ${latest.seq}`,
      });
    }
    // Never sign a chain that does not verify since the last signature.
    const broken = await findChainBreak(db, startOf(latest), head.seq);
    if (broken !== undefined) {
      throw new AuditStoreError('ERR_AUDIT_CHAIN_BROKEN', { detail: `seq ${broken.seq}: ${broken.why}` });
    }
    const t = now();
    const payload = { seq: head.seq, hash: head.hash, time: new Date(t).toISOString() };
    const { jwt, kid } = await signer.sign(payload, CHECKPOINT_TYP);
    const header = decodeCheckpointHeader(jwt);
    const signed = decodeCheckpointPayload(jwt);
    if (
      header?.['typ'] !== CHECKPOINT_TYP ||
      typeof kid !== 'string' ||
      kid.length === 0 ||
      header['kid'] !== kid ||
      typeof header['alg'] !== 'string' ||
      !CHECKPOINT_ALGORITHMS.includes(header['alg']) ||
      signed?.seq !== head.seq ||
      signed.hash !== head.hash
    ) {
      throw new AuditStoreError('ERR_AUDIT_SIGNER_INVALID', {
        detail: 'expected a compact JWS of the checkpoint payload with typ, kid and an asymmetric alg',
      });
    }
    // Another instance may have signed the same head just now: its checkpoint stands.
    await db
      .insertInto('audit_checkpoints')
      .values({ seq: head.seq, hash: head.hash, created_at: t, kid, signature: jwt })
      .onConflict((oc) => oc.column('seq').doNothing())
      .execute();
    return checkpointAt(head.seq);
  }

  return {
    async append(events) {
      if (events.length === 0) return { seqs: [], inserted: 0 };
      const columns = events.map((input, index) => columnsFromInput(input, index));
      return inChainTransaction(db, (trx) => appendColumns(trx, columns));
    },

    async read(afterSeq, limit) {
      if (!Number.isSafeInteger(afterSeq)) throw argument('afterSeq is not an integer');
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_READ_LIMIT) {
        throw argument(`limit is not between 1 and ${MAX_READ_LIMIT}`);
      }
      const rows = await db
        .selectFrom('audit_log')
        .selectAll()
        .where('seq', '>', afterSeq)
        .orderBy('seq')
        .limit(limit)
        .execute();
      return rows.map((raw) => {
        const row = normalizeRow(raw);
        return { seq: row.seq, id: row.id, event: eventFromRow(row), hash: row.hash };
      });
    },

    head: () => readHead(db),
    headSeq: async () => (await readHead(db)).seq,
    checkpoint,
    latestCheckpoint,

    async latestCheckpointBefore(time) {
      const ms = toEpochMs(time, 'time');
      const row = await db
        .selectFrom('audit_checkpoints as c')
        .innerJoin('audit_log as l', 'l.seq', 'c.seq')
        .selectAll('c')
        .where('l.time', '<', ms)
        .orderBy('c.seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row === undefined ? undefined : toCheckpoint(row);
    },

    async prune(throughSeq, signer, pruneOptions = {}) {
      if (!Number.isSafeInteger(throughSeq) || throughSeq < 1) throw argument('throughSeq is not a seq');
      const refuse = (detail: string): AuditStoreError =>
        new AuditStoreError('ERR_AUDIT_PRUNE_REFUSED', { detail });
      const first = await firstSeq(db);
      if (first === undefined || first > throughSeq) return { pruned: 0, throughSeq };
      const anchor = await checkpointAt(throughSeq);
      if (anchor === undefined) throw refuse(`no checkpoint at seq ${throughSeq}`);
      if (decodeCheckpointPayload(anchor.jws)?.hash !== anchor.hash) {
        throw refuse(`checkpoint at seq ${throughSeq} does not carry its own hash`);
      }
      async function verifyPrunable(first: number, anchorHash: string): Promise<void> {
        const start =
          first === 1 ? { seq: 0, hash: AUDIT_GENESIS_HASH } : ((await checkpointAt(first - 1)) ?? undefined);
        if (start === undefined) throw refuse(`no checkpoint anchors the log start at seq ${first}`);
        // A log that starts after seq 1 must do so because of a prune, whose record is still there
        // (it lies after the rows it removed): otherwise a prune would launder a deletion.
        if (first > 1) {
          const accounted = await db
            .selectFrom('audit_log')
            .select('seq')
            .where('id', '=', `audit-prune-${first - 1}`)
            .where('action', '=', PRUNE_ACTION)
            .executeTakeFirst();
          if (accounted === undefined) {
            throw refuse(`no audit.prune record accounts for the log starting at seq ${first}`);
          }
        }
        const broken = await findChainBreak(db, { seq: start.seq, hash: start.hash }, throughSeq);
        if (broken !== undefined) throw refuse(`seq ${broken.seq}: ${broken.why}`);
        const row = await db
          .selectFrom('audit_log')
          .select('hash')
          .where('seq', '=', throughSeq)
          .executeTakeFirst();
        if (row?.hash !== anchorHash) throw refuse(`row ${throughSeq} does not match its checkpoint`);
      }
      // The rows to remove must chain from where the log starts up to the signed hash: pruning
      // never erases the evidence of a tampering. These reads run outside the chain lock: a prune
      // by another instance meanwhile makes them fail, which is then no refusal but its work done.
      try {
        await verifyPrunable(first, anchor.hash);
      } catch (err) {
        if (err instanceof AuditStoreError && (await firstSeq(db)) !== first)
          return { pruned: 0, throughSeq };
        throw err;
      }
      const id = `audit-prune-${throughSeq}`;
      const outcome = await inChainTransaction(db, async (trx) => {
        // Another instance may have pruned meanwhile.
        const stillFirst = await firstSeq(trx);
        if (stillFirst !== first) return undefined;
        const event: AuditEventColumns = {
          id,
          time: now(),
          action: PRUNE_ACTION,
          outcome: 'success',
          component: 'audit',
          actor_sub: pruneOptions.actor?.sub ?? null,
          actor_client_id: pruneOptions.actor?.clientId ?? null,
          source_ip: null,
          target_type: 'audit_log',
          target_id: String(throughSeq),
          decision: null,
          reason: 'retention',
          request_id: null,
          details: canonicalJson({
            checkpointHash: anchor.hash,
            checkpointKid: anchor.kid,
            firstSeq: first,
            throughSeq,
          }),
        };
        const appended = await appendColumns(trx, [event]);
        const deleted = await trx.deleteFrom('audit_log').where('seq', '<=', throughSeq).executeTakeFirst();
        return { seq: appended.seqs[0] ?? 0, pruned: Number(deleted.numDeletedRows) };
      });
      if (outcome === undefined) return { pruned: 0, throughSeq };
      const signed = await checkpoint(signer);
      return {
        pruned: outcome.pruned,
        throughSeq,
        event: { seq: outcome.seq, id },
        ...(signed === undefined ? {} : { checkpoint: signed }),
      };
    },
  };
}

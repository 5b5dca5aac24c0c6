import { join } from 'node:path';
import {
  createFileSinkCursor,
  isAuditStoreError,
  PRUNE_ACTION,
  type AuditCheckpoint,
  type AuditPruneResult,
  type AuditSigner,
  type AuditStore,
} from '@gatehouse/audit';
import type { AuditActor, Logger } from '@gatehouse/core';

export const DAY_MS = 86_400_000;

/** Who prunes: recorded as the actor of the `audit.prune` record. */
export const CLI_PRUNE_ACTOR: AuditActor = { sub: 'cli' };
export const RETENTION_PRUNE_ACTOR: AuditActor = { sub: 'auth-server:retention' };

/** How far a SIEM sink has delivered (its saved cursor): pruning never goes past it. */
export interface SinkPosition {
  readonly id: string;
  readonly cursor: number;
}

export type AuditPruneHoldReason = 'empty' | 'no_checkpoint' | 'already_pruned' | 'sink_behind';

/** What pruning through a cut-off would do now. */
export interface AuditPrunePlan {
  /** Epoch milliseconds: records written before it may go. */
  readonly cutoff: number;
  /** Where the log starts now (undefined while it is empty). */
  readonly firstSeq: number | undefined;
  /** The newest checkpoint whose record was written before the cut-off: where pruning stops. */
  readonly checkpoint: AuditCheckpoint | undefined;
  /** Rows a prune removes now (seq `firstSeq` through `checkpoint.seq`); 0 with a `hold`. */
  readonly rows: number;
  /** Why nothing is pruned. */
  readonly hold?: { readonly reason: AuditPruneHoldReason; readonly detail: string };
}

/** Where each configured sink stands (`<dataDir>/audit-sinks/<id>.cursor`; a sink never run is at 0). */
export async function readSinkPositions(
  dataDir: string,
  sinks: readonly { readonly id: string }[],
): Promise<SinkPosition[]> {
  return Promise.all(
    sinks.map(async ({ id }) => ({
      id,
      cursor: await createFileSinkCursor(join(dataDir, 'audit-sinks', `${id}.cursor`)).load(),
    })),
  );
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Plans pruning through the newest signed checkpoint written before `cutoff`: the store removes rows
 * only behind a checkpoint (packages/audit/README.md, Pruning), and never past what a sink has
 * delivered — the store is the sinks' backlog.
 */
export async function planAuditPrune(
  store: AuditStore,
  cutoff: number,
  sinks: readonly SinkPosition[] = [],
): Promise<AuditPrunePlan> {
  const [first] = await store.read(0, 1);
  const firstSeq = first?.seq;
  const held = (
    reason: AuditPruneHoldReason,
    detail: string,
    checkpoint?: AuditCheckpoint,
  ): AuditPrunePlan => ({ cutoff, firstSeq, checkpoint, rows: 0, hold: { reason, detail } });
  if (firstSeq === undefined) return held('empty', 'the audit log is empty');
  const checkpoint = await store.latestCheckpointBefore(cutoff);
  if (checkpoint === undefined && firstSeq > 1) {
    // The checkpoint pruned through before has no row left to be "before" anything.
    return held(
      'already_pruned',
      `records through seq ${firstSeq - 1} are pruned already and no later checkpoint covers a record written before ${iso(cutoff)}`,
    );
  }
  if (checkpoint === undefined) {
    return held('no_checkpoint', `no signed checkpoint covers a record written before ${iso(cutoff)}`);
  }
  if (checkpoint.seq < firstSeq) {
    return held(
      'already_pruned',
      `records through seq ${checkpoint.seq} (the newest checkpoint before ${iso(cutoff)}) are pruned already; the log starts at seq ${firstSeq}`,
      checkpoint,
    );
  }
  const behind = sinks.filter((sink) => sink.cursor < checkpoint.seq).sort((a, b) => a.cursor - b.cursor)[0];
  if (behind !== undefined) {
    return held(
      'sink_behind',
      `audit sink ${behind.id} has delivered through seq ${behind.cursor} only; pruning through seq ${checkpoint.seq} would drop records it has not sent`,
      checkpoint,
    );
  }
  return { cutoff, firstSeq, checkpoint, rows: checkpoint.seq - firstSeq + 1 };
}

/** A prune carried out: `pruned` is 0 when another process pruned the same rows first. */
export interface AuditPruneOutcome extends AuditPruneResult {
  /** Another instance pruned these rows meanwhile (nothing was recorded by this one). */
  readonly prunedElsewhere: boolean;
}

/**
 * Prunes as planned. Several processes may prune at once (auth servers sharing PostgreSQL, a CLI
 * next to a server): the store deletes and records under its chain lock, so one prune record is
 * written; a loser sees 0 rows, or a refusal because the rows it was checking vanished under it,
 * which is told apart from a real refusal by where the log starts afterwards.
 */
export async function pruneAuditLog(
  store: AuditStore,
  signer: AuditSigner,
  plan: AuditPrunePlan,
  actor: AuditActor,
): Promise<AuditPruneOutcome | undefined> {
  const throughSeq = plan.checkpoint?.seq;
  if (plan.hold !== undefined || throughSeq === undefined) return undefined;
  try {
    const result = await store.prune(throughSeq, signer, { actor });
    return { ...result, prunedElsewhere: result.pruned === 0 };
  } catch (err) {
    if (!isAuditStoreError(err) || err.code !== 'ERR_AUDIT_PRUNE_REFUSED') throw err;
    if (!(await prunedPast(store, throughSeq))) throw err;
    return { pruned: 0, throughSeq, prunedElsewhere: true };
  }
}

/** Records a concurrent prune can have appended since it deleted (its record is among them). */
const PRUNE_RECORD_SEARCH = 10_000;

/**
 * Whether the rows through `throughSeq` are gone *and* a prune record accounts for where the log
 * now starts: rows deleted by someone else without a record stay a refusal (`audit verify` names them).
 */
async function prunedPast(store: AuditStore, throughSeq: number): Promise<boolean> {
  const records = await store.read(0, PRUNE_RECORD_SEARCH);
  const first = records[0];
  if (first === undefined || first.seq <= throughSeq) return false;
  const anchor = String(first.seq - 1);
  return records.some(
    (r) => r.event.action === PRUNE_ACTION && r.event.component === 'audit' && r.event.target?.id === anchor,
  );
}

export interface AuditRetentionOptions {
  readonly store: AuditStore;
  readonly signer: AuditSigner;
  readonly maxAgeDays: number;
  /** Seconds between runs (the first run starts at once). */
  readonly intervalSec: number;
  /** The sinks' positions at each run (their cursor files). */
  readonly sinkPositions: () => Promise<readonly SinkPosition[]>;
  readonly logger: Logger;
  /** Clock for the cut-off, epoch milliseconds (default `Date.now`). */
  readonly now?: () => number;
}

export interface AuditRetention {
  /** One run now (or the run in progress): the outcome, or undefined when nothing was pruned. */
  prune(): Promise<AuditPruneOutcome | undefined>;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

/**
 * `audit.retention`: every `intervalSec`, prunes the records older than `maxAgeDays` through the
 * newest signed checkpoint before that age, with the auth server's signing key. A failure is
 * logged and retried at the next run.
 */
export function startAuditRetention(options: AuditRetentionOptions): AuditRetention {
  const { store, signer, logger } = options;
  const now = options.now ?? Date.now;
  let running: Promise<AuditPruneOutcome | undefined> | undefined;
  let stopped = false;

  async function once(): Promise<AuditPruneOutcome | undefined> {
    const cutoff = now() - options.maxAgeDays * DAY_MS;
    const plan = await planAuditPrune(store, cutoff, await options.sinkPositions());
    if (plan.hold !== undefined) {
      if (plan.hold.reason === 'sink_behind')
        logger.warn({ cutoff: iso(cutoff) }, `audit retention held back: ${plan.hold.detail}`);
      else
        logger.debug({ cutoff: iso(cutoff), reason: plan.hold.reason }, 'audit retention: nothing to prune');
      return undefined;
    }
    const outcome = await pruneAuditLog(store, signer, plan, RETENTION_PRUNE_ACTOR);
    if (outcome !== undefined && !outcome.prunedElsewhere) {
      logger.info(
        {
          pruned: outcome.pruned,
          throughSeq: outcome.throughSeq,
          recordSeq: outcome.event?.seq,
          cutoff: iso(cutoff),
        },
        'audit records pruned (retention)',
      );
    }
    return outcome;
  }

  function prune(): Promise<AuditPruneOutcome | undefined> {
    running ??= once()
      .catch((err: unknown) => {
        logger.error({ err }, 'audit retention failed');
        return undefined;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  const timer = setInterval(() => {
    if (!stopped) void prune();
  }, options.intervalSec * 1000);
  timer.unref();
  void prune();
  return {
    prune,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

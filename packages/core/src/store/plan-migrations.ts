import type { PhasedMigration } from './migration-phase.js';

export interface MigrationPlanInput {
  /** The migrations this version ships. */
  readonly migrations: Readonly<Record<string, PhasedMigration>>;
  /** Names in the history table. */
  readonly applied: readonly string[];
  /** Names recorded as contract migrations when they ran. */
  readonly contracted: readonly string[];
  /** The operator said every instance runs this version (`gatehouse migrate --contract`). */
  readonly contract: boolean;
}

export interface MigrationPlan {
  /** To run now, in name order. */
  readonly pending: readonly string[];
  /** Contract migrations waiting for `--contract`. */
  readonly heldBack: readonly string[];
  /** Applied by a newer version (unknown here): this instance runs as the previous version. */
  readonly newer: readonly string[];
}

export type MigrationPlanResult = MigrationPlan | { readonly refused: string };

/**
 * What a migration run does, decided from the history read under the migration lock. A contract
 * migration waits unless the operator asked for it or the history is empty (a fresh database: no
 * previous version can be running on it). A newer version's expand migrations are tolerated, so an
 * instance of the previous version can restart during a rolling upgrade or a rollback; once a newer
 * version's contract migration ran, this version refuses to start.
 */
export function planMigrations(input: MigrationPlanInput): MigrationPlanResult {
  const names = Object.keys(input.migrations).sort();
  const applied = new Set(input.applied);
  const lastKnown = names.at(-1);
  const newer = input.applied.filter((name) => !Object.hasOwn(input.migrations, name)).sort();
  // A newer version's migrations sort after every migration of this one (append-only history).
  const missing = lastKnown === undefined ? undefined : newer.find((name) => name < lastKnown);
  if (missing !== undefined) return { refused: `applied migration ${missing} is missing` };
  const contracted = newer.find((name) => input.contracted.includes(name));
  if (contracted !== undefined) {
    return {
      refused: `a newer version ran the contract migration ${contracted}; this version no longer runs on this schema`,
    };
  }
  const isContract = (name: string): boolean => input.migrations[name]?.phase === 'contract';
  const allowContract = input.contract || input.applied.length === 0;
  const waiting = names.filter((name) => !applied.has(name));
  const heldBack = allowContract ? [] : waiting.filter(isContract);
  const pending = waiting.filter((name) => !heldBack.includes(name));
  // Only a held-back contract migration may run after migrations that sort after it.
  const lastApplied = [...input.applied].sort().at(-1) ?? '';
  const late = pending.find((name) => name < lastApplied && !isContract(name));
  if (late !== undefined) {
    return {
      refused: `new migration ${late} sorts before the applied ${lastApplied} (name new migrations after the last one)`,
    };
  }
  return { pending, heldBack, newer };
}

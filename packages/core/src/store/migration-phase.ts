import type { Migration } from 'kysely';

/**
 * Expand/contract (docs/upgrades.md). `expand`: instances of the previous version keep working on
 * the new schema: create a table, add a nullable or defaulted column, create an index (unique only
 * on new tables or new columns), drop a non-unique index. `contract`: anything else (drop or rename
 * a table or column, change a type, NOT NULL or a new constraint on existing columns). Expand
 * migrations run at start; contract migrations wait for `gatehouse migrate --contract`, run once
 * every instance runs the version that ships them.
 */
export type MigrationPhase = 'expand' | 'contract';

/**
 * A kysely migration that may declare its phase; undeclared is `expand`, a claim
 * test/migrations/catalog-diff.test.ts checks against the database catalog for every registered set.
 */
export interface PhasedMigration extends Migration {
  readonly phase?: MigrationPhase;
}

/** One component's migrations and the name of its history table (`<component>_migrations`). */
export interface MigrationSet {
  readonly component: string;
  readonly migrations: Readonly<Record<string, PhasedMigration>>;
}

/** The history table of a component's migrations (kysely's), e.g. `auth_server_migrations`. */
export function migrationHistoryTable(component: string): string {
  return `${component.replace(/[^a-z0-9]/gi, '_')}_migrations`;
}

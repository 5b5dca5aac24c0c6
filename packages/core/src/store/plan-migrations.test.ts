import { describe, expect, it } from 'vitest';
import type { PhasedMigration } from './migration-phase.js';
import { planMigrations, type MigrationPlanInput, type MigrationPlanResult } from './plan-migrations.js';

const up = (): Promise<void> => Promise.resolve();
const expand: PhasedMigration = { up };
const contract: PhasedMigration = { phase: 'contract', up };

/** Version 1 and version 2 of one component: v2 drops what v1 stopped using (003) and adds 004. */
const v1 = { '001': expand, '002': { phase: 'expand', up } satisfies PhasedMigration };
const v2 = { ...v1, '003': contract, '004': expand };

interface Case {
  readonly name: string;
  readonly input: Omit<MigrationPlanInput, 'contracted' | 'contract'> &
    Partial<Pick<MigrationPlanInput, 'contracted' | 'contract'>>;
  readonly plan: MigrationPlanResult;
}

const cases: Case[] = [
  {
    name: 'a fresh database runs everything, contract migrations too (no previous version runs on it)',
    input: { migrations: v2, applied: [] },
    plan: { pending: ['001', '002', '003', '004'], heldBack: [], newer: [] },
  },
  {
    name: 'an upgrade holds the contract migration back and runs the expand migration after it',
    input: { migrations: v2, applied: ['001', '002'] },
    plan: { pending: ['004'], heldBack: ['003'], newer: [] },
  },
  {
    name: 'the next start has nothing to run and still holds it back',
    input: { migrations: v2, applied: ['001', '002', '004'] },
    plan: { pending: [], heldBack: ['003'], newer: [] },
  },
  {
    name: '--contract runs the held-back migration after the later one',
    input: { migrations: v2, applied: ['001', '002', '004'], contract: true },
    plan: { pending: ['003'], heldBack: [], newer: [] },
  },
  {
    name: '--contract on an upgrade runs everything in name order',
    input: { migrations: v2, applied: ['001'], contract: true },
    plan: { pending: ['002', '003', '004'], heldBack: [], newer: [] },
  },
  {
    name: 'the previous version runs on the expanded schema (rolling upgrade, rollback)',
    input: { migrations: v1, applied: ['001', '002', '004'] },
    plan: { pending: [], heldBack: [], newer: ['004'] },
  },
  {
    name: 'the previous version refuses a schema a newer version contracted',
    input: { migrations: v1, applied: ['001', '002', '004', '003'], contracted: ['003'] },
    plan: {
      refused: 'a newer version ran the contract migration 003; this version no longer runs on this schema',
    },
  },
  {
    name: 'a component with no migrations yet sees every applied one as newer',
    input: { migrations: {}, applied: ['001'] },
    plan: { pending: [], heldBack: [], newer: ['001'] },
  },
  {
    name: 'an applied migration missing from this version (not a newer one) is refused',
    input: { migrations: { '002': expand }, applied: ['001'] },
    plan: { refused: 'applied migration 001 is missing' },
  },
  {
    name: 'a new expand migration named before an applied one is refused',
    input: { migrations: { '000': expand, '001': expand }, applied: ['001'] },
    plan: {
      refused: 'new migration 000 sorts before the applied 001 (name new migrations after the last one)',
    },
  },
  {
    name: 'an expand migration of this version pending behind a newer version is refused',
    input: { migrations: v2, applied: ['001', '002', '005'], contract: true },
    plan: {
      refused: 'new migration 004 sorts before the applied 005 (name new migrations after the last one)',
    },
  },
];

describe('planMigrations', () => {
  it.each(cases)('$name', ({ input, plan }) => {
    expect(planMigrations({ contracted: [], contract: false, ...input })).toEqual(plan);
  });
});

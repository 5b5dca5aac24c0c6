import {
  createAuditStore,
  hashAuditRecord,
  verifyAuditLog,
  type AuditLogDatabase,
  type AuditProblemKind,
  type AuditStore,
} from '@gatehouse/audit';
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createTestKey,
  ENGINES,
  openBacking,
  rawSigner,
  resolverOf,
  sampleInputs,
  type Backing,
  type TestKey,
} from './support/backing.js';

/**
 * Each way an intruder with write access to the database could tamper with the stored rows, done
 * with plain SQL on a log of 25 records whose first 20 are covered by a signed checkpoint.
 * An intruder who knows the (public) canonical form recomputes hashes where that helps them.
 */
interface Tamper {
  readonly name: string;
  readonly apply: (ctx: TamperContext) => Promise<void>;
  readonly seq: number;
  readonly kind: AuditProblemKind;
}

interface TamperContext {
  readonly backing: Backing;
  readonly db: Kysely<AuditLogDatabase>;
  readonly store: AuditStore;
  readonly key: TestKey;
}

const HEAD = 25;
const SIGNED = 20;

async function row(db: Kysely<AuditLogDatabase>, seq: number) {
  const found = await db.selectFrom('audit_log').selectAll().where('seq', '=', seq).executeTakeFirstOrThrow();
  return { ...found, seq: Number(found.seq), time: Number(found.time) };
}

/** Shifts every row from `fromSeq` on by `by` (two steps: the primary key is checked per row). */
async function renumber(ctx: TamperContext, fromSeq: number, by: number): Promise<void> {
  await ctx.backing.raw(`update audit_log set seq = -seq where seq >= ${fromSeq}`);
  await ctx.backing.raw(`update audit_log set seq = -seq + (${by}) where seq < 0`);
}

/** Recomputes the hashes of rows from `fromSeq` on, each linked to the one before (a full rewrite). */
async function rechain(ctx: TamperContext, fromSeq: number): Promise<void> {
  let prev = (await row(ctx.db, fromSeq - 1)).hash;
  const rows = await ctx.db
    .selectFrom('audit_log')
    .selectAll()
    .where('seq', '>=', fromSeq)
    .orderBy('seq')
    .execute();
  for (const r of rows) {
    const hash = hashAuditRecord({ ...r, seq: Number(r.seq), time: Number(r.time), prev_hash: prev });
    await ctx.db.updateTable('audit_log').set({ prev_hash: prev, hash }).where('seq', '=', r.seq).execute();
    prev = hash;
  }
}

/** A forged record placed at `seq`, chained after the row before it, its hash computed or not. */
async function insertForged(ctx: TamperContext, seq: number, computeHash: boolean): Promise<void> {
  const before = await row(ctx.db, seq - 1);
  const forged = { ...before, id: 'forged', seq, action: 'login.success', prev_hash: before.hash };
  const hash = computeHash ? hashAuditRecord(forged) : 'f'.repeat(64);
  await ctx.db
    .insertInto('audit_log')
    .values({ ...forged, hash })
    .execute();
}

const TAMPERS: readonly Tamper[] = [
  {
    name: 'a field edited in place',
    apply: (ctx) => ctx.backing.raw(`update audit_log set action = 'login.success' where seq = 7`),
    seq: 7,
    kind: 'altered',
  },
  {
    name: 'details replaced by text that is not JSON',
    apply: (ctx) => ctx.backing.raw(`update audit_log set details = 'oops' where seq = 7`),
    seq: 7,
    kind: 'altered',
  },
  {
    name: 'a hash edited',
    apply: (ctx) => ctx.backing.raw(`update audit_log set hash = '${'a'.repeat(64)}' where seq = 7`),
    seq: 7,
    kind: 'altered',
  },
  {
    name: 'a prev_hash edited',
    apply: (ctx) => ctx.backing.raw(`update audit_log set prev_hash = '${'b'.repeat(64)}' where seq = 7`),
    seq: 7,
    kind: 'altered',
  },
  {
    name: 'a field edited and the row hash recomputed',
    apply: async (ctx) => {
      const r = await row(ctx.db, 7);
      const edited = { ...r, actor_sub: 'someone-else' };
      await ctx.db
        .updateTable('audit_log')
        .set({ actor_sub: 'someone-else', hash: hashAuditRecord(edited) })
        .where('seq', '=', 7)
        .execute();
    },
    seq: 7,
    kind: 'altered',
  },
  {
    name: 'a middle row deleted',
    apply: (ctx) => ctx.backing.raw(`delete from audit_log where seq = 7`),
    seq: 7,
    kind: 'removed',
  },
  {
    name: 'three middle rows deleted',
    apply: (ctx) => ctx.backing.raw(`delete from audit_log where seq between 7 and 9`),
    seq: 7,
    kind: 'removed',
  },
  {
    name: 'a middle row deleted and later rows renumbered to close the gap',
    apply: async (ctx) => {
      await ctx.backing.raw(`delete from audit_log where seq = 7`);
      await renumber(ctx, 8, -1);
    },
    seq: 7,
    kind: 'removed',
  },
  {
    name: 'rows renumbered upwards, leaving a gap',
    apply: (ctx) => renumber(ctx, 7, 1),
    seq: 7,
    kind: 'removed',
  },
  {
    name: 'the first row deleted',
    apply: (ctx) => ctx.backing.raw(`delete from audit_log where seq = 1`),
    seq: 1,
    kind: 'removed',
  },
  {
    name: 'a forged row inserted, later rows renumbered, its hash computed',
    apply: async (ctx) => {
      await renumber(ctx, 7, 1);
      await insertForged(ctx, 7, true);
    },
    seq: 7,
    kind: 'inserted',
  },
  {
    name: 'a forged row inserted, later rows renumbered, with a made-up hash',
    apply: async (ctx) => {
      await renumber(ctx, 7, 1);
      await insertForged(ctx, 7, false);
    },
    seq: 7,
    kind: 'inserted',
  },
  {
    name: 'a forged row inserted before the first with seq 0',
    apply: async (ctx) => {
      const first = await row(ctx.db, 1);
      await ctx.db
        .insertInto('audit_log')
        .values({ ...first, id: 'forged', seq: 0, hash: 'c'.repeat(64) })
        .execute();
    },
    seq: 0,
    kind: 'inserted',
  },
  {
    name: 'two neighbouring rows swapped',
    apply: async (ctx) => {
      await ctx.backing.raw(`update audit_log set seq = -1 where seq = 7`);
      await ctx.backing.raw(`update audit_log set seq = 7 where seq = 8`);
      await ctx.backing.raw(`update audit_log set seq = 8 where seq = -1`);
    },
    seq: 7,
    kind: 'reordered',
  },
  {
    name: 'two distant rows swapped',
    apply: async (ctx) => {
      await ctx.backing.raw(`update audit_log set seq = -1 where seq = 5`);
      await ctx.backing.raw(`update audit_log set seq = 5 where seq = 15`);
      await ctx.backing.raw(`update audit_log set seq = 15 where seq = -1`);
    },
    seq: 5,
    kind: 'reordered',
  },
  {
    name: 'a row moved to the end and the rest renumbered',
    apply: async (ctx) => {
      await ctx.backing.raw(`update audit_log set seq = ${HEAD + 1} where seq = 7`);
      await renumber(ctx, 8, -1);
    },
    seq: 7,
    kind: 'reordered',
  },
  {
    name: 'the tail cut below the signed checkpoint',
    apply: (ctx) => ctx.backing.raw(`delete from audit_log where seq >= 18`),
    seq: 18,
    kind: 'truncated',
  },
  {
    name: 'every row deleted',
    apply: (ctx) => ctx.backing.raw(`delete from audit_log`),
    seq: 1,
    kind: 'truncated',
  },
  {
    name: 'the tail cut and new records appended in its place',
    apply: async (ctx) => {
      await ctx.backing.raw(`delete from audit_log where seq >= 18`);
      await ctx.store.append(sampleInputs(100, 10));
    },
    seq: SIGNED,
    kind: 'truncated',
  },
  {
    name: 'a row edited and every later hash recomputed',
    apply: async (ctx) => {
      await ctx.backing.raw(`update audit_log set action = 'login.success' where seq = 7`);
      await rechain(ctx, 7);
    },
    seq: SIGNED,
    kind: 'truncated',
  },
  {
    name: 'a checkpoint signature forged (bytes changed)',
    apply: async (ctx) => {
      const cp = await ctx.db.selectFrom('audit_checkpoints').selectAll().executeTakeFirstOrThrow();
      const [header, payload, signature = ''] = cp.signature.split('.');
      const flipped = Buffer.from(signature, 'base64url');
      flipped[5] = (flipped[5] ?? 0) ^ 0xff;
      await ctx.db
        .updateTable('audit_checkpoints')
        .set({ signature: `${header}.${payload}.${flipped.toString('base64url')}` })
        .execute();
    },
    seq: SIGNED,
    kind: 'bad_signature',
  },
  {
    name: 'a checkpoint re-signed by another key under the same kid',
    apply: async (ctx) => {
      await ctx.backing.raw(`delete from audit_checkpoints`);
      const intruder = await createTestKey();
      await createAuditStore(ctx.db).checkpoint(rawSigner(intruder, ctx.key.kid));
    },
    seq: HEAD,
    kind: 'bad_signature',
  },
  {
    name: 'a checkpoint signed by an unknown key',
    apply: async (ctx) => {
      await createAuditStore(ctx.db).checkpoint(rawSigner(await createTestKey()));
    },
    seq: HEAD,
    kind: 'bad_signature',
  },
  {
    name: "a checkpoint's hash column edited",
    apply: (ctx) => ctx.backing.raw(`update audit_checkpoints set hash = '${'d'.repeat(64)}'`),
    seq: SIGNED,
    kind: 'bad_signature',
  },
  {
    name: 'a checkpoint copied to a seq past the head',
    apply: (ctx) =>
      ctx.backing.raw(
        `insert into audit_checkpoints select 40, hash, created_at, kid, signature from audit_checkpoints`,
      ),
    seq: 40,
    kind: 'bad_signature',
  },
];

describe.each(ENGINES)('audit chain tampering on %s', (engine, available) => {
  let backing: Backing;
  let ctx: TamperContext;

  beforeEach(async () => {
    if (!available) return;
    backing = await openBacking(engine);
    const store = createAuditStore(backing.sql.db);
    const key = await createTestKey();
    await store.append(sampleInputs(1, SIGNED));
    await store.checkpoint(rawSigner(key));
    // The unsigned tail: protected by the chain until the next checkpoint.
    await store.append(sampleInputs(SIGNED + 1, HEAD - SIGNED));
    ctx = { backing, db: backing.sql.db, store, key };
  });
  afterEach(async () => {
    if (available) await backing.release();
  });

  describe.skipIf(!available)('', () => {
    it('an untouched log verifies', async () => {
      const result = await verifyAuditLog(ctx.db, { resolveKey: resolverOf(ctx.key) });
      expect(result).toEqual({ ok: true, checked: HEAD, checkpoints: 1, head: await ctx.store.head() });
    });

    it.each(TAMPERS)('$name → $kind at seq $seq', async ({ apply, seq, kind }) => {
      await apply(ctx);
      const result = await verifyAuditLog(ctx.db, { resolveKey: resolverOf(ctx.key), batchSize: 4 });
      expect(result.ok).toBe(false);
      expect(result.firstProblem).toMatchObject({ seq, kind });
      expect(result.firstProblem?.detail).toEqual(expect.any(String));
    });
  });
});

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createAuditStore, verifyAuditLog, type AuditStore } from '@gatehouse/audit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ENGINES, openBacking, sampleInputs, type Backing } from './support/backing.js';

const WORKER = fileURLToPath(new URL('./support/append-worker.mjs', import.meta.url));
const DIST = ['../../../audit/dist/index.js', '../../../core/dist/index.js'].map((p) =>
  fileURLToPath(new URL(p, import.meta.url)),
);

/** The worker runs the built packages; without a build the cross-process case skips, saying why. */
function built(): boolean {
  const missing = DIST.filter((file) => !existsSync(file));
  if (missing.length === 0) return true;
  const message = `audit store across processes: skipped, not built (${missing.join(', ')}); run npm run build`;
  if (process.env['GATEHOUSE_REQUIRE_ALL'] === '1')
    throw new Error(`${message}, and GATEHOUSE_REQUIRE_ALL=1 forbids skipping`);
  process.stderr.write(`[gatehouse] ${message}\n`);
  return false;
}
const isBuilt = built();

function runWorker(args: object): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, JSON.stringify(args)], {
      env: { PATH: process.env['PATH'] },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`worker exited ${code}: ${stderr}`)),
    );
  });
}

const noKeys = (): undefined => undefined;

describe.each(ENGINES)('concurrent appenders on %s', (engine, available) => {
  let backing: Backing;

  beforeEach(async () => {
    if (available) backing = await openBacking(engine);
  });
  afterEach(async () => {
    if (available) await backing.release();
  });

  /** The log holds exactly `ids`, once each, at seqs 1..n, and the chain verifies. */
  async function expectOneChain(ids: ReadonlySet<string>): Promise<void> {
    const rows = await backing.sql.db.selectFrom('audit_log').select(['seq', 'id']).orderBy('seq').execute();
    expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: ids.size }, (_, i) => i + 1));
    expect(new Set(rows.map((r) => r.id))).toEqual(ids);
    const result = await verifyAuditLog(backing.sql.db, { resolveKey: noKeys, batchSize: 50 });
    expect(result).toMatchObject({ ok: true, checked: ids.size });
  }

  describe.skipIf(!available)('', () => {
    it('two handles on one database appending at once keep one chain', async () => {
      const stores: AuditStore[] = [
        createAuditStore(backing.sql.db),
        createAuditStore(backing.openAnother().db),
        createAuditStore(backing.openAnother().db),
      ];
      const batches = stores.flatMap((store, s) =>
        Array.from({ length: 15 }, (_, b) => ({ store, inputs: sampleInputs(s * 1000 + b * 10, 10) })),
      );
      // Overlapping deliveries of the same ids from every handle, interleaved with the rest.
      const shared = sampleInputs(90_000, 10);
      const results = await Promise.all([
        ...batches.map(({ store, inputs }) => store.append(inputs)),
        ...stores.map((store) => store.append(shared)),
      ]);
      const ids = new Set([
        ...batches.flatMap(({ inputs }) => inputs.map((i) => i.id)),
        ...shared.map((i) => i.id),
      ]);
      expect(results.reduce((n, r) => n + r.inserted, 0)).toBe(ids.size);
      // Each shared id got one seq, and every handle was told the same one.
      const sharedSeqs = results.slice(batches.length).map((r) => r.seqs);
      expect(new Set(sharedSeqs.map((s) => s.join(','))).size).toBe(1);
      await expectOneChain(ids);
    });

    it.skipIf(!isBuilt)('three processes appending at once keep one chain', async () => {
      const workers = [1, 2, 3];
      const batches = 20;
      const size = 15;
      await Promise.all(
        workers.map((worker) => runWorker({ location: backing.location, worker, batches, size })),
      );
      const ids = new Set<string>(Array.from({ length: 10 }, (_, i) => `shared-${i}`));
      for (const w of workers) {
        for (let b = 0; b < batches; b++) for (let i = 0; i < size; i++) ids.add(`w${w}-${b}-${i}`);
      }
      await expectOneChain(ids);
      // Each process's batches landed in its own order.
      const rows = await backing.sql.db
        .selectFrom('audit_log')
        .select(['seq', 'id'])
        .orderBy('seq')
        .execute();
      for (const w of workers) {
        const mine = rows.filter((r) => r.id.startsWith(`w${w}-`)).map((r) => r.id);
        expect(mine[0]).toBe(`w${w}-0-0`);
        expect(mine.at(-1)).toBe(`w${w}-${batches - 1}-${size - 1}`);
      }
    });
  });
});

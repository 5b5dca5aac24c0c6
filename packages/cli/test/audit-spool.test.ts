import { appendFile, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuditStore, migrateAudit, type AuditStore } from '@gatehouse/audit';
import { createLogger, openSqlDatabase, type AuditEvent, type SqlDatabase } from '@gatehouse/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAuditShipper } from '../src/runtime/audit-shipper.js';
import { openAuditSpool, readSpoolCursor } from '../src/runtime/audit-spool.js';
import { openComponentAudit } from '../src/runtime/component-audit.js';

const event = (n: number): AuditEvent => ({
  time: new Date(Date.UTC(2026, 0, 1, 0, 0, n % 60, n)).toISOString(),
  action: 'admin.client.list',
  outcome: 'success',
  component: 'auth-server',
  details: { n },
});

const logger = createLogger({ component: 'test', level: 'silent' });

/** Resolves once `check` holds, polling the real store (no timing asserted). */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('condition not met');
}

async function storedNs(store: AuditStore): Promise<number[]> {
  return (await store.read(0, 10_000)).map((record) => Number(record.event.details?.['n']));
}

describe('the audit spool and its shipper', () => {
  let dir: string;
  let sql: SqlDatabase<unknown>;
  let store: AuditStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-spool-'));
    sql = openSqlDatabase({ sqliteFile: join(dir, 'gatehouse.db') });
    await migrateAudit(sql.db);
    store = createAuditStore(sql.db);
  });
  afterEach(async () => {
    await sql.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('spools { id, event } lines in order (group commit), owner-only, each id fresh', async () => {
    const spoolDir = join(dir, 'audit-spool');
    const spool = await openAuditSpool(spoolDir, 'auth-server');
    const burst = Array.from({ length: 200 }, (_, n) => spool.append(event(n)));
    await Promise.all(burst);
    const late = [spool.append(event(200)), spool.append(event(201))];
    await spool.close();
    await Promise.all(late);
    const lines = (await readFile(join(spoolDir, 'auth-server.jsonl'), 'utf8'))
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { id: string; event: AuditEvent });
    expect(lines.map((line) => line.event.details?.['n'])).toEqual(Array.from({ length: 202 }, (_, n) => n));
    expect(new Set(lines.map((line) => line.id)).size).toBe(202);
    expect((await stat(join(spoolDir, 'auth-server.jsonl'))).mode & 0o777).toBe(0o600);
    expect((await stat(spoolDir)).mode & 0o777).toBe(0o700);
    await expect(spool.append(event(999))).rejects.toThrow(/closed/);
  });

  it('cuts a torn last line (a crash mid-write) and keeps every whole line', async () => {
    const spoolDir = join(dir, 'audit-spool');
    const first = await openAuditSpool(spoolDir, 'gateway');
    await first.append(event(1));
    await first.close();
    await appendFile(join(spoolDir, 'gateway.jsonl'), '{"id":"torn","event":{"ti');
    const again = await openAuditSpool(spoolDir, 'gateway');
    await again.append(event(2));
    const { events } = await again.readFrom(0, 10);
    expect(events.map((e) => e.event.details?.['n'])).toEqual([1, 2]);
    await again.close();
  });

  it('ships to the store, saves its position, and replays from it after a restart without duplicates', async () => {
    const audit = await openComponentAudit({ dataDir: dir, component: 'auth-server', store, logger });
    await Promise.all([1, 2, 3].map((n) => audit.append(event(n))));
    await eventually(async () => (await store.headSeq()) === 3);
    await audit.close();
    // A crash after storing a batch but before saving its position: the cursor goes back to 0.
    await writeFile(join(dir, 'audit-spool', 'auth-server.cursor'), JSON.stringify({ offset: 0 }));
    const restarted = await openComponentAudit({ dataDir: dir, component: 'auth-server', store, logger });
    await restarted.append(event(4));
    await restarted.ship();
    expect(await storedNs(store)).toEqual([1, 2, 3, 4]);
    await restarted.close();
  });

  it('a store that is down leaves the events spooled; they are shipped once it is back', async () => {
    let down = true;
    const failing: Pick<AuditStore, 'append'> = {
      append: (events) => (down ? Promise.reject(new Error('database unavailable')) : store.append(events)),
    };
    const audit = await openComponentAudit({ dataDir: dir, component: 'bff', store: failing, logger });
    await Promise.all([1, 2, 3].map((n) => audit.append(event(n))));
    await expect(audit.ship()).rejects.toThrow(/unavailable/);
    expect(await store.headSeq()).toBe(0);
    // Acknowledged events are on disk meanwhile.
    expect(
      (await readFile(join(dir, 'audit-spool', 'bff.jsonl'), 'utf8')).trimEnd().split('\n'),
    ).toHaveLength(3);
    // Closing while the store is down keeps the spool for the next start.
    await audit.close();
    down = false;
    const restarted = await openComponentAudit({ dataDir: dir, component: 'bff', store: failing, logger });
    await eventually(async () => (await store.headSeq()) === 3);
    await restarted.append(event(4));
    await restarted.ship();
    expect(await storedNs(store)).toEqual([1, 2, 3, 4]);
    await restarted.close();
  });

  it('the background loop retries with backoff until the store is back', async () => {
    let down = true;
    const failing: Pick<AuditStore, 'append'> = {
      append: (events) => (down ? Promise.reject(new Error('database unavailable')) : store.append(events)),
    };
    const spool = await openAuditSpool(join(dir, 'audit-spool'), 'cli');
    const shipper = await createAuditShipper({
      spool,
      cursorFile: join(dir, 'audit-spool', 'cli.cursor'),
      store: failing,
      logger,
      retryInitialMs: 5,
      retryMaxMs: 20,
    });
    await spool.append(event(7));
    await expect(shipper.drain()).rejects.toThrow();
    down = false;
    await eventually(async () => (await store.headSeq()) === 1);
    await shipper.stop();
    await spool.close();
  });

  it('empties the spool once everything in it is shipped (cursor back to 0)', async () => {
    const audit = await openComponentAudit({
      dataDir: dir,
      component: 'gateway',
      store,
      logger,
      truncateAtBytes: 1,
    });
    await Promise.all([1, 2].map((n) => audit.append(event(n))));
    await audit.ship();
    const file = join(dir, 'audit-spool', 'gateway.jsonl');
    expect((await stat(file)).size).toBe(0);
    expect(await readSpoolCursor(join(dir, 'audit-spool', 'gateway.cursor'))).toBe(0);
    await audit.append(event(3));
    await audit.ship();
    expect(await storedNs(store)).toEqual([1, 2, 3]);
    await audit.close();
  });

  it('the spools of processes that are gone are shipped and removed by the next process', async () => {
    const spoolDir = join(dir, 'audit-spool');
    const owner = await openComponentAudit({ dataDir: dir, component: 'cli', store, logger });
    expect(owner.spool.file).toBe(join(spoolDir, 'cli.jsonl'));
    // A process that is gone (no such pid) left its pid-named spool with an event in it.
    const orphan = await openAuditSpool(spoolDir, 'cli-999999999');
    await orphan.append(event(42));
    await orphan.close();
    await writeFile(join(spoolDir, 'cli-999999999.lock'), '999999999');
    // A gateway that died (kill -9) and was not restarted: its lock names a pid that is gone.
    const dead = await openAuditSpool(spoolDir, 'gateway');
    await dead.append(event(43));
    await dead.close();
    await writeFile(join(spoolDir, 'gateway.lock'), '999999999');
    await owner.close();
    const next = await openComponentAudit({ dataDir: dir, component: 'cli', store, logger });
    await next.close();
    expect((await storedNs(store)).sort()).toEqual([42, 43]);
    expect(await readdir(spoolDir)).toEqual(['cli.jsonl']);
  });
});

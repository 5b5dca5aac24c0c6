import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditEvent, AuditSink } from '@gatehouse/core';

/** One spooled line: the record id (the store's dedupe key) and the event. */
export interface SpooledEvent {
  readonly id: string;
  readonly event: AuditEvent;
}

export interface AuditSpool {
  /** The spool file (`<dir>/<name>.jsonl`). */
  readonly file: string;
  readonly sink: AuditSink;
  /** Resolves once the event is written and synced (fdatasync) to the spool. */
  append(event: AuditEvent): Promise<void>;
  /** Resolves when every event handed over so far is synced. */
  flush(): Promise<void>;
  /** Up to `maxEvents` synced events after byte `offset`, and the offset after them. */
  readFrom(offset: number, maxEvents: number): Promise<{ events: SpooledEvent[]; next: number; bad: number }>;
  /** Bytes synced so far: what a reader may ship. */
  syncedSize(): number;
  /**
   * When everything up to `shipped` is all the spool holds, saves the cursor at 0 and empties the
   * file (the cursor first: a crash in between replays, never skips). Returns whether it did.
   */
  truncateIfShipped(shipped: number, saveCursor: (offset: number) => Promise<void>): Promise<boolean>;
  /** Called after each synced batch (the shipper's wake-up). */
  onSynced(listener: () => void): void;
  close(): Promise<void>;
}

/** Most bytes one read takes (an event is at most a few tens of KiB). */
const MAX_READ_BYTES = 4 * 1024 * 1024;

interface Pending {
  readonly line: string;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** A lock file naming its owner's pid: the owner is alive, or the lock is stale. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Locks this process holds (a lock file naming this pid but not in here is stale). */
const heldLocks = new Set<string>();

/**
 * Takes `<dir>/<name>.lock` (exclusive create), taking over a lock whose process is gone. Returns
 * false when a live process — this one included — holds it.
 */
export async function lockSpool(dir: string, name: string): Promise<boolean> {
  const lock = join(dir, `${name}.lock`);
  if (heldLocks.has(lock)) return false;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lock, String(process.pid), { flag: 'wx', mode: 0o600 });
      heldLocks.add(lock);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number.parseInt(await readFile(lock, 'utf8').catch(() => ''), 10);
      const stale = owner === process.pid ? !heldLocks.has(lock) : !(owner > 0 && isAlive(owner));
      if (!stale) return false;
      await unlink(lock).catch(() => undefined);
    }
  }
  return false;
}

export async function unlockSpool(dir: string, name: string): Promise<void> {
  const lock = join(dir, `${name}.lock`);
  if (!heldLocks.delete(lock)) return;
  await unlink(lock).catch(() => undefined);
}

/** Cuts a torn last line (a crash mid-write) so appends start on a line boundary. */
async function cutTornTail(handle: FileHandle): Promise<number> {
  const { size } = await handle.stat();
  if (size === 0) return 0;
  const chunk = Buffer.alloc(Math.min(size, 64 * 1024));
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    const { bytesRead } = await handle.read(chunk, 0, end - start, start);
    const at = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (at >= 0) {
      const keep = start + at + 1;
      if (keep !== size) {
        await handle.truncate(keep);
        await handle.datasync();
      }
      return keep;
    }
    end = start;
  }
  await handle.truncate(0);
  return 0;
}

function parseLine(line: string): SpooledEvent | undefined {
  try {
    const value = JSON.parse(line) as Partial<SpooledEvent>;
    if (typeof value.id !== 'string' || typeof value.event !== 'object') return undefined;
    return value as SpooledEvent;
  } catch {
    return undefined;
  }
}

/**
 * The local durable spool of one component process: audit events as JSON lines `{ id, event }`
 * (a fresh UUID per event, the store's dedupe key), appended in order to `<dir>/<name>.jsonl`
 * (owner-only). An event's promise resolves once it is written and synced, so an acknowledged
 * event survives a kill -9. Group commit: events arriving while a sync runs are written and
 * synced together, one sync per batch. The caller must hold the spool's lock (`lockSpool`).
 */
export async function openAuditSpool(dir: string, name: string): Promise<AuditSpool> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${name}.jsonl`);
  const handle = await open(file, 'a+', 0o600);
  let synced = await cutTornTail(handle);
  let queue: Pending[] = [];
  let truncation:
    | {
        shipped: number;
        save: (offset: number) => Promise<void>;
        done: (ok: boolean) => void;
        fail: (err: unknown) => void;
      }
    | undefined;
  let writing: Promise<void> | undefined;
  let closed = false;
  const listeners: (() => void)[] = [];

  async function drain(): Promise<void> {
    while (queue.length > 0 || truncation !== undefined) {
      if (queue.length === 0 && truncation !== undefined) {
        const job = truncation;
        truncation = undefined;
        try {
          if (job.shipped === synced && synced > 0) {
            await job.save(0);
            await handle.truncate(0);
            await handle.datasync();
            synced = 0;
            job.done(true);
          } else job.done(false);
        } catch (err) {
          job.fail(err);
        }
        continue;
      }
      const batch = queue;
      queue = [];
      const text = batch.map((pending) => pending.line).join('');
      try {
        await handle.appendFile(text);
        await handle.datasync();
        synced += Buffer.byteLength(text);
        for (const pending of batch) pending.resolve();
        for (const listener of listeners) listener();
      } catch (err) {
        for (const pending of batch) pending.reject(err);
      }
    }
  }

  function startDrain(): Promise<void> {
    writing ??= drain().finally(() => {
      writing = undefined;
      if (queue.length > 0 || truncation !== undefined) void startDrain();
    });
    return writing;
  }

  async function settle(): Promise<void> {
    while (writing !== undefined || queue.length > 0) await startDrain();
  }

  const append = (event: AuditEvent): Promise<void> => {
    if (closed) return Promise.reject(new Error('audit spool is closed'));
    return new Promise<void>((resolve, reject) => {
      queue.push({ line: `${JSON.stringify({ id: randomUUID(), event })}\n`, resolve, reject });
      void startDrain();
    });
  };

  return {
    file,
    sink: append,
    append,
    flush: settle,
    syncedSize: () => synced,
    async readFrom(offset, maxEvents) {
      const events: SpooledEvent[] = [];
      let bad = 0;
      const from = Math.min(offset, synced);
      const length = Math.min(synced - from, MAX_READ_BYTES);
      if (length === 0) return { events, next: from, bad };
      const data = Buffer.alloc(length);
      const { bytesRead } = await handle.read(data, 0, length, from);
      let start = 0;
      let nl = data.indexOf(0x0a, start);
      while (nl >= 0 && nl < bytesRead && events.length < maxEvents) {
        const parsed = parseLine(data.subarray(start, nl).toString('utf8'));
        if (parsed === undefined) bad++;
        else events.push(parsed);
        start = nl + 1;
        nl = data.indexOf(0x0a, start);
      }
      return { events, next: from + start, bad };
    },
    truncateIfShipped(shipped, saveCursor) {
      if (closed) return Promise.resolve(false);
      return new Promise<boolean>((resolve, reject) => {
        truncation?.done(false);
        truncation = { shipped, save: saveCursor, done: resolve, fail: reject };
        void startDrain();
      });
    },
    onSynced(listener) {
      listeners.push(listener);
    },
    async close() {
      if (closed) return;
      await settle();
      closed = true;
      await settle();
      await handle.close();
    },
  };
}

/** Reads a spool cursor (a byte offset); 0 when absent or unreadable. */
export async function readSpoolCursor(file: string): Promise<number> {
  try {
    const value = JSON.parse(await readFile(file, 'utf8')) as { offset?: unknown };
    return typeof value.offset === 'number' && Number.isSafeInteger(value.offset) && value.offset >= 0
      ? value.offset
      : 0;
  } catch {
    return 0;
  }
}

/** Saves a spool cursor atomically: temporary file, fsync, rename, fsync of the folder. */
export async function writeSpoolCursor(file: string, offset: number): Promise<void> {
  const temporary = `${file}.tmp`;
  const handle = await open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(JSON.stringify({ offset }));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
  const folder = await open(join(file, '..'), 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}

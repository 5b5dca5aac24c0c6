import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditEvent, AuditSink } from '@gatehouse/core';

export interface FileAuditSink {
  readonly sink: AuditSink;
  /** The sink, typed as what it is: resolves once the event is synced to disk. */
  append(event: AuditEvent): Promise<void>;
  /** Resolves when every event handed over so far is written and synced to disk. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

interface Pending {
  readonly line: string;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Appends audit events as JSON lines to a file (owner-only permissions), in order. An event's
 * promise resolves once it is written and synced (fdatasync), so a reported event survives a
 * crash. Group commit: events arriving while a sync runs are written and synced together, one
 * sync per batch, so a busy server is not limited to one event per disk sync. This is the simple
 * durable log of the first releases; the hash-chained audit store replaces it.
 */
export async function openFileAuditSink(file: string): Promise<FileAuditSink> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const handle = await open(file, 'a', 0o600);
  let queue: Pending[] = [];
  let writing: Promise<void> | undefined;
  let closed = false;

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        await handle.appendFile(batch.map((pending) => pending.line).join(''));
        await handle.datasync();
        for (const pending of batch) pending.resolve();
      } catch (err) {
        for (const pending of batch) pending.reject(err);
      }
    }
  }

  function startDrain(): Promise<void> {
    writing ??= drain().finally(() => {
      writing = undefined;
      // Events queued after the loop saw an empty queue, before this ran.
      if (queue.length > 0) void startDrain();
    });
    return writing;
  }

  async function settle(): Promise<void> {
    while (writing !== undefined || queue.length > 0) await startDrain();
  }

  const append = (event: AuditEvent): Promise<void> => {
    if (closed) return Promise.reject(new Error('audit log is closed'));
    return new Promise<void>((resolve, reject) => {
      queue.push({ line: `${JSON.stringify(event)}\n`, resolve, reject });
      void startDrain();
    });
  };

  return {
    sink: append,
    append,
    flush: settle,
    async close() {
      if (closed) return;
      closed = true;
      await settle();
      await handle.close();
    },
  };
}

import { randomUUID } from 'node:crypto';
import type { AuditEvent } from '@gatehouse/core';
import type { AuditRecord, AuditSource } from '../types.js';

/** An audit source held in memory: for tests and for wiring the sinks before a store exists. */
export interface MemoryAuditSource extends AuditSource {
  /** Stores an event as the next record (id: a random UUID unless given) and tells the listeners. */
  append(event: AuditEvent, id?: string): AuditRecord;
  /** Calls `listener` after each append (e.g. a delivery's `wake`); returns the unsubscribe. */
  onAppend(listener: (record: AuditRecord) => void): () => void;
}

export function createMemoryAuditSource(): MemoryAuditSource {
  const records: AuditRecord[] = [];
  const listeners = new Set<(record: AuditRecord) => void>();
  return {
    append(event, id = randomUUID()) {
      const record: AuditRecord = Object.freeze({ seq: records.length + 1, id, event });
      records.push(record);
      for (const listener of listeners) listener(record);
      return record;
    },
    onAppend(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    read(afterSeq, limit) {
      // seq n sits at index n - 1.
      const start = Math.max(0, Math.floor(afterSeq));
      return Promise.resolve(records.slice(start, start + Math.max(0, limit)));
    },
    headSeq() {
      return Promise.resolve(records.length);
    },
  };
}

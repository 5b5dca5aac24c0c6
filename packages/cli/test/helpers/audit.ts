import { join } from 'node:path';
import { createAuditStore, MAX_READ_LIMIT } from '@gatehouse/audit';
import { openSqlDatabase, type AuditEvent } from '@gatehouse/core';
import type { TestDeployment } from './cli.js';

/**
 * The events in a data dir's audit store (its SQLite file), one JSON line each, in store order:
 * what a component shipped from its spool (a command or a stopped server has shipped everything).
 */
export async function readAuditLog(dataDir: string): Promise<string> {
  return (await readAuditEvents(dataDir)).map((event) => JSON.stringify(event)).join('\n');
}

export async function readAuditEvents(dataDir: string): Promise<AuditEvent[]> {
  const sql = openSqlDatabase({ sqliteFile: join(dataDir, 'gatehouse.db') });
  try {
    const store = createAuditStore(sql.db);
    const events: AuditEvent[] = [];
    for (let after = 0; ;) {
      const page = await store.read(after, MAX_READ_LIMIT);
      if (page.length === 0) return events;
      events.push(...page.map((record) => record.event));
      after = page[page.length - 1]!.seq;
    }
  } finally {
    await sql.close();
  }
}

/** Opens a deployment's SQLite file for raw reads and writes (the tampering an attacker with database access does). */
export async function withDatabase<T>(
  deployment: TestDeployment,
  fn: (db: ReturnType<typeof openSqlDatabase>['db']) => Promise<T>,
): Promise<T> {
  const database = openSqlDatabase({ sqliteFile: join(deployment.dataDir, 'gatehouse.db') });
  try {
    return await fn(database.db);
  } finally {
    await database.close();
  }
}

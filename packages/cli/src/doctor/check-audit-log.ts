import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createAuditStore, createFileSinkCursor, verifyAuditLog } from '@gatehouse/audit';
import type { AuthServerStores } from '@gatehouse/auth-server';
import { openSqlDatabase } from '@gatehouse/core';
import type { Deployment } from '../config/load-deployment.js';
import { hasAuditStore } from '../commands/audit.js';
import { createCheckpointKeyResolver } from '../runtime/audit-checkpoints.js';
import type { DoctorFinding } from './finding.js';

/**
 * The audit log as `gatehouse audit verify` sees it (the hash chain and the signed checkpoints: a
 * broken chain is high), and each configured SIEM sink's position (`<dataDir>/audit-sinks/<id>.cursor`):
 * a sink further behind the store head than its `backlogAlertEvents` is a warning — its events are
 * kept, but it is not delivering. Reads only; a database without an audit store yet is information.
 */
export async function checkAuditLog(deployment: Deployment): Promise<DoctorFinding[]> {
  // No database yet (the key check says so): nothing to verify, and nothing may be created.
  if (deployment.databaseUrl === undefined && !existsSync(deployment.sqliteFile)) return [];
  const sql = openSqlDatabase<unknown>({ url: deployment.databaseUrl, sqliteFile: deployment.sqliteFile });
  const db = sql.db as unknown as AuthServerStores['db'];
  try {
    if (!(await hasAuditStore(db))) {
      return [
        {
          severity: 'info',
          check: 'audit.no_store',
          message: 'no audit store in the database yet (a component creates it when it starts)',
        },
      ];
    }
    const findings: DoctorFinding[] = [];
    const result = await verifyAuditLog(db, { resolveKey: createCheckpointKeyResolver(db) });
    if (!result.ok) {
      const problem = result.firstProblem;
      findings.push({
        severity: 'high',
        check: 'audit.chain_broken',
        message:
          problem === undefined
            ? `the audit log does not verify after ${result.checked} records (gatehouse audit verify)`
            : `the audit log does not verify: ${problem.kind} at seq ${problem.seq}: ${problem.detail} (gatehouse audit verify)`,
      });
    }
    const sinks = deployment.config.audit.sinks;
    if (sinks.length > 0) {
      const head = await createAuditStore(db).headSeq();
      for (const sink of sinks) {
        const cursor = await createFileSinkCursor(
          join(deployment.dataDir, 'audit-sinks', `${sink.id}.cursor`),
        ).load();
        const lag = head - cursor;
        if (lag > sink.backlogAlertEvents)
          findings.push({
            severity: 'warning',
            check: 'audit.sink_backlog',
            message:
              `audit sink ${sink.id} is ${lag} records behind the store (above backlogAlertEvents ` +
              `${sink.backlogAlertEvents}): it is not delivering; its events are kept`,
          });
      }
    }
    return findings;
  } finally {
    await sql.close();
  }
}

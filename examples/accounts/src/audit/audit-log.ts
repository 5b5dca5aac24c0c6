import type { AuditEvent, AuditSink, Logger } from '@gatehouse/core';
import type { Kysely } from 'kysely';
import type { AccountsDatabase } from '../db/schema.js';

export interface AuditLog {
  /** Logs the event as one pino line, stores it, and hands it to `forward` if given. */
  readonly sink: AuditSink;
  /** Stored events, newest first, at or after `since` (ISO 8601). */
  list(query: { readonly since?: string | undefined; readonly limit: number }): Promise<AuditEvent[]>;
}

/**
 * This service's audit trail: every decision (peer identity, token, policy) as a log line and a
 * row, served to admins by `GET /api/admin/audit`. Events never carry a token (core's rule).
 */
export function createAccountsAudit(
  db: Kysely<AccountsDatabase>,
  logger: Logger,
  forward: AuditSink | undefined,
): AuditLog {
  return {
    async sink(event) {
      logger.info({ audit: event }, 'audit');
      const stored = db
        .insertInto('audit_events')
        .values({ seq: null, time: event.time, event: JSON.stringify(event) })
        .execute();
      await Promise.all([stored, forward?.(event)]);
    },

    async list({ since, limit }) {
      let query = db.selectFrom('audit_events').select('event');
      if (since !== undefined) query = query.where('time', '>=', since);
      const rows = await query.orderBy('seq', 'desc').limit(limit).execute();
      return rows.map((row) => JSON.parse(row.event) as AuditEvent);
    },
  };
}

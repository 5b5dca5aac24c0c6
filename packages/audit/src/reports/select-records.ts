import type { AuditEvent } from '@gatehouse/core';

/** What a report reads: a stored record (the store's `read`, in seq order). */
export interface ReportRecord {
  readonly seq: number;
  readonly id: string;
  readonly event: AuditEvent;
}

/** Where records come from: the audit store (`createAuditStore`) or anything shaped like it. */
export interface ReportSource {
  read(afterSeq: number, limit: number): Promise<readonly ReportRecord[]>;
}

export interface ReportPeriod {
  /** Inclusive, ISO 8601. */
  readonly from?: string | undefined;
  /** Exclusive, ISO 8601. */
  readonly to?: string | undefined;
}

const PAGE = 1000;

function parseTime(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new RangeError(`--${name} is not a date or time (ISO 8601, e.g. 2026-11-01)`);
  return ms;
}

/** The records of `period` that `keep` selects, in store order, read a page at a time. */
export async function* selectRecords(
  source: ReportSource,
  period: ReportPeriod,
  keep: (event: AuditEvent) => boolean,
): AsyncGenerator<ReportRecord> {
  const fromMs = parseTime(period.from, 'from');
  const toMs = parseTime(period.to, 'to');
  if (fromMs !== undefined && toMs !== undefined && toMs <= fromMs)
    throw new RangeError('--to must be after --from');
  let after = 0;
  for (;;) {
    const page = await source.read(after, PAGE);
    for (const record of page) {
      const time = Date.parse(record.event.time);
      if (
        (fromMs === undefined || time >= fromMs) &&
        (toMs === undefined || time < toMs) &&
        keep(record.event)
      )
        yield record;
    }
    if (page.length < PAGE) return;
    after = (page.at(-1) as ReportRecord).seq;
  }
}

/**
 * Every access by or about one data subject (GDPR Art. 15): events where the subject acted, and
 * events whose target is that subject (an administrator deleting the user, a lockout of the account).
 */
export function concernsSubject(subject: string): (event: AuditEvent) => boolean {
  return (event) =>
    event.actor?.sub === subject ||
    ((event.target?.type === 'user' || event.target?.type === 'subject') && event.target.id === subject);
}

/** The actions that make an incident report: detections, alerts and what they triggered, bans, lockouts, token theft, key compromise, refused admin access. */
const INCIDENT_ACTIONS = new Set([
  'gateway.brute_force.detected',
  'gateway.abuse.detected',
  'gateway.alert.fired',
  'gateway.alert.resolved',
  'gateway.alert.action',
  'gateway.alert.received',
  'gateway.ban.add',
  'gateway.ban.remove',
  'gateway.reroute',
  'login.lockout',
  'login.credential_stuffing',
  'token.reuse_detected',
  'admin.auth_failed',
  'admin.key.rotate',
  'key.transition',
]);

export function isIncident(event: AuditEvent): boolean {
  return INCIDENT_ACTIONS.has(event.action);
}

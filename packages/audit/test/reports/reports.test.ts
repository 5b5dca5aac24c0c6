import {
  concernsSubject,
  createAuditStore,
  isIncident,
  renderReport,
  selectRecords,
  type AuditStore,
  type ReportRecord,
} from '@gatehouse/audit';
import type { AuditEvent } from '@gatehouse/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBacking, type Backing } from '../store/support/backing.js';

/**
 * Reports over a real audit store (SQLite file): the access report of one data subject (GDPR Art. 15)
 * and the incident report of a period, rendered as JSON, CSV and HTML — the renderings checked
 * against injection (spreadsheet formulas, markup) with hostile values in every field.
 */
const T0 = Date.UTC(2026, 10, 1);
const at = (minutes: number): string => new Date(T0 + minutes * 60_000).toISOString();

const EVENTS: AuditEvent[] = [
  {
    time: at(0),
    action: 'login.success',
    outcome: 'success',
    component: 'auth-server',
    actor: { sub: 'alice' },
    sourceIp: '192.0.2.1',
  },
  {
    time: at(1),
    action: 'token.issue',
    outcome: 'success',
    component: 'auth-server',
    actor: { sub: 'alice', clientId: 'spa' },
  },
  {
    time: at(2),
    action: 'authz.decision',
    outcome: 'success',
    component: 'accounts',
    actor: { sub: 'bob' },
    decision: 'allow',
  },
  {
    time: at(3),
    action: 'login.lockout',
    outcome: 'failure',
    component: 'auth-server',
    target: { type: 'user', id: 'alice' },
    reason: 'account_failures',
  },
  {
    time: at(4),
    action: 'gateway.abuse.detected',
    outcome: 'success',
    component: 'gateway',
    sourceIp: '203.0.113.9',
    reason: 'enumeration',
  },
  {
    time: at(5),
    action: 'gateway.ban.add',
    outcome: 'success',
    component: 'gateway',
    target: { type: 'ip', id: '203.0.113.9' },
  },
  {
    time: at(60),
    action: 'authz.decision',
    outcome: 'failure',
    component: 'orders',
    actor: { sub: 'alice' },
    decision: 'deny',
    reason: 'not_owner',
  },
  {
    time: at(61),
    action: 'token.reuse_detected',
    outcome: 'failure',
    component: 'auth-server',
    actor: { sub: 'carol' },
  },
];

let backing: Backing;
let store: AuditStore;

beforeAll(async () => {
  backing = await openBacking('sqlite');
  store = createAuditStore(backing.sql.db);
  await store.append(EVENTS.map((event, i) => ({ id: `event-${i}`, event })));
});

afterAll(async () => {
  await backing.release();
});

async function collect(iterator: AsyncIterable<ReportRecord>): Promise<ReportRecord[]> {
  const records: ReportRecord[] = [];
  for await (const record of iterator) records.push(record);
  return records;
}

describe('selecting records', () => {
  it('access: everything alice did and everything done to her account, in order', async () => {
    const records = await collect(selectRecords(store, {}, concernsSubject('alice')));
    expect(records.map((r) => r.event.action)).toEqual([
      'login.success',
      'token.issue',
      'login.lockout',
      'authz.decision',
    ]);
  });

  it('access within a period: from inclusive, to exclusive', async () => {
    const records = await collect(
      selectRecords(store, { from: at(1), to: at(60) }, concernsSubject('alice')),
    );
    expect(records.map((r) => r.event.time)).toEqual([at(1), at(3)]);
  });

  it('incidents: detections, bans, lockouts and token theft of the period', async () => {
    const records = await collect(selectRecords(store, { from: at(0), to: at(30) }, isIncident));
    expect(records.map((r) => r.event.action)).toEqual([
      'login.lockout',
      'gateway.abuse.detected',
      'gateway.ban.add',
    ]);
  });

  it('incidents include reroutes an alert set or an operator lifted', () => {
    const reroute = {
      time: at(1),
      action: 'gateway.reroute',
      outcome: 'success',
      component: 'gateway',
    } as const;
    expect(isIncident(reroute)).toBe(true);
    expect(isIncident({ ...reroute, action: 'authz.decision' })).toBe(false);
  });

  it.each([
    { period: { from: 'yesterday' }, message: /--from is not a date/ },
    { period: { to: 'soon' }, message: /--to is not a date/ },
    { period: { from: at(10), to: at(5) }, message: /--to must be after --from/ },
  ])('refuses the period $period', async ({ period, message }) => {
    await expect(collect(selectRecords(store, period, () => true))).rejects.toThrow(message);
  });

  it('reads a page at a time', async () => {
    const pages: number[] = [];
    const source = {
      read: (after: number, limit: number) => {
        pages.push(after);
        const all = Array.from({ length: 2500 }, (_, i) => ({
          seq: i + 1,
          id: `e${i}`,
          event: EVENTS[0] as AuditEvent,
        }));
        return Promise.resolve(all.filter((r) => r.seq > after).slice(0, limit));
      },
    };
    expect(await collect(selectRecords(source, {}, () => true))).toHaveLength(2500);
    expect(pages).toEqual([0, 1000, 2000]);
  });
});

const HEADER = { kind: 'access', title: 'Access report', scope: { subject: 'alice' }, generatedAt: at(100) };
const hostile = (value: string): ReportRecord => ({
  seq: 1,
  id: 'x',
  event: {
    time: at(0),
    action: value,
    outcome: 'success',
    component: value,
    actor: { sub: value, clientId: value },
    reason: value,
    details: { note: value },
  },
});

describe('rendering', () => {
  it('json: one document with the scope and every record', () => {
    const doc = JSON.parse(renderReport('json', HEADER, [hostile('ok')])) as Record<string, unknown>;
    expect(doc).toMatchObject({ report: 'access', scope: { subject: 'alice' }, count: 1 });
  });

  it.each([
    ['=HYPERLINK("http://evil.example","x")'],
    ['+1+cmd|/C calc!A0'],
    ['-2+3'],
    ['@SUM(A1:A2)'],
    ['\t=1'],
  ])('csv: a formula %j is neutralised', (value) => {
    const csv = renderReport('csv', HEADER, [hostile(value)]);
    const row = csv.split('\r\n')[1] ?? '';
    // Every cell that carried the value starts with a quote mark, never with the formula character.
    expect(row).not.toMatch(/(^|,)"?[=+\-@\t]/);
    expect(row).toContain(`'${value.replace(/"/g, '""')}`);
  });

  it('csv: commas, quotes and line breaks stay inside their field (RFC 4180)', () => {
    const csv = renderReport('csv', HEADER, [hostile('a,b "c"\r\nd')]);
    const lines = csv.split('\r\n');
    expect(lines[0]?.split(',')).toHaveLength(14);
    expect(csv).toContain('"a,b ""c""\r\nd"');
  });

  it.each([['<script>alert(1)</script>'], ['"><img src=x onerror=alert(1)>'], ["' onmouseover='x"]])(
    'html: %j is text, never markup',
    (value) => {
      const page = renderReport('html', { ...HEADER, scope: { subject: value } }, [hostile(value)]);
      expect(page).not.toContain('<script>');
      expect(page).not.toContain('<img');
      expect(page).not.toMatch(/onmouseover='/);
      expect(page).toContain('Content-Security-Policy" content="default-src \'none\'');
    },
  );
});

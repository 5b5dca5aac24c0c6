import type { AuditEvent } from '@gatehouse/core';
import { describe, expect, it } from 'vitest';
import { buildEcsDocument, formatEcsJson } from './format-ecs.js';

const full: AuditEvent = {
  time: '2026-03-01T12:00:00.000Z',
  action: 'authz.decision',
  outcome: 'failure',
  component: 'gateway',
  actor: { sub: 'user-1', clientId: 'partner' },
  sourceIp: '192.0.2.10',
  target: { type: 'account', id: 'acc-9' },
  decision: 'deny',
  reason: 'insufficient_scope',
  requestId: 'req-42',
  details: { route: 'accounts', status: 403, cached: false },
};

describe('buildEcsDocument', () => {
  it('maps every field to its ECS name, Gatehouse-only fields under gatehouse', () => {
    expect(buildEcsDocument({ seq: 7, id: 'evt-7', event: full })).toEqual({
      '@timestamp': '2026-03-01T12:00:00.000Z',
      ecs: { version: '8.11.0' },
      event: {
        id: 'evt-7',
        sequence: 7,
        action: 'authz.decision',
        outcome: 'failure',
        kind: 'event',
        dataset: 'gatehouse.audit',
        reason: 'insufficient_scope',
      },
      service: { name: 'gateway' },
      user: { id: 'user-1' },
      source: { ip: '192.0.2.10' },
      http: { request: { id: 'req-42' } },
      gatehouse: {
        client_id: 'partner',
        decision: 'deny',
        target: { type: 'account', id: 'acc-9' },
        details: { route: 'accounts', status: 403, cached: false },
      },
    });
  });

  it('leaves absent fields out instead of writing nulls', () => {
    const minimal: AuditEvent = {
      time: full.time,
      action: 'config.reload',
      outcome: 'success',
      component: 'cli',
    };
    const document = buildEcsDocument({ seq: 1, id: 'a', event: minimal });
    expect(Object.keys(document).sort()).toEqual(['@timestamp', 'ecs', 'event', 'service']);
    expect(formatEcsJson({ seq: 1, id: 'a', event: minimal })).not.toMatch(/null|undefined/);
  });

  it('never forwards a detail whose name looks like a credential', () => {
    const leaky: AuditEvent = {
      ...full,
      details: {
        access_token: 'eyJ.x.y',
        client_secret: 's3cr3t',
        password: 'p',
        Authorization: 'Bearer z',
        ok: 1,
      },
    };
    const line = formatEcsJson({ seq: 1, id: 'a', event: leaky });
    expect(JSON.parse(line).gatehouse.details).toEqual({ ok: 1 });
    for (const secret of ['eyJ.x.y', 's3cr3t', 'Bearer z']) expect(line).not.toContain(secret);
  });

  it('writes one line whatever the field values hold', () => {
    const line = formatEcsJson({ seq: 1, id: 'a', event: { ...full, reason: 'line\nbreak' } });
    expect(line).not.toContain('\n');
    expect(JSON.parse(line).event.reason).toBe('line\nbreak');
  });
});

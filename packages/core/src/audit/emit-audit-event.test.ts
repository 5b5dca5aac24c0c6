import { describe, expect, it } from 'vitest';
import type { AuditEvent } from './audit-event.js';
import { buildAuditActor, emitAuditEvent } from './emit-audit-event.js';

const event: AuditEvent = {
  time: '2026-01-01T00:00:00.000Z',
  action: 'token.verify',
  outcome: 'success',
  component: 'test',
};

describe('emitAuditEvent', () => {
  it('delivers the event to the sink', () => {
    const seen: AuditEvent[] = [];
    emitAuditEvent(
      (e) => void seen.push(e),
      event,
      () => undefined,
    );
    expect(seen).toEqual([event]);
  });

  it('does nothing without a sink', () => {
    const errors: unknown[] = [];
    emitAuditEvent(undefined, event, (err) => errors.push(err));
    expect(errors).toEqual([]);
  });

  it('reports a throwing sink instead of throwing', () => {
    const errors: unknown[] = [];
    const failure = new Error('sink down');
    emitAuditEvent(
      () => {
        throw failure;
      },
      event,
      (err) => errors.push(err),
    );
    expect(errors).toEqual([failure]);
  });

  it('reports a rejecting sink instead of leaving an unhandled rejection', async () => {
    const failure = new Error('sink down');
    const reported = new Promise<unknown>((resolve) => {
      emitAuditEvent(() => Promise.reject(failure), event, resolve);
    });
    await expect(reported).resolves.toBe(failure);
  });
});

describe('buildAuditActor', () => {
  it('names the client only when there is one', () => {
    expect(buildAuditActor({ sub: 'u1', clientId: undefined })).toEqual({ sub: 'u1' });
    expect(buildAuditActor({ sub: 'u1', clientId: 'c1' })).toEqual({ sub: 'u1', clientId: 'c1' });
  });
});

import { randomBytes } from 'node:crypto';
import { createPseudonymizer, PSEUDONYM_PREFIX } from '@gatehouse/audit';
import type { AuditEvent } from '@gatehouse/core';
import { describe, expect, it } from 'vitest';

const KEY = randomBytes(32);
const EVENT: AuditEvent = {
  time: '2026-11-01T00:00:00.000Z',
  action: 'login.failure',
  outcome: 'failure',
  component: 'auth-server',
  actor: { sub: 'alice', clientId: 'spa' },
  sourceIp: '192.0.2.7',
  target: { type: 'user', id: 'alice' },
};

describe('keyed pseudonymisation of audit events', () => {
  const both = createPseudonymizer(KEY, { sourceIp: true, subject: true });

  it('replaces subject and address, keeps everything else, leaves the input alone', () => {
    const out = both.apply(EVENT);
    expect(out.actor?.sub).toBe(both.subject('alice'));
    expect(out.target?.id).toBe(both.subject('alice'));
    expect(out.sourceIp).toBe(both.ip('192.0.2.7'));
    expect(out.actor?.clientId).toBe('spa');
    expect({ ...out, actor: undefined, target: undefined, sourceIp: undefined }).toEqual({
      ...EVENT,
      actor: undefined,
      target: undefined,
      sourceIp: undefined,
    });
    expect(EVENT.actor?.sub).toBe('alice');
    expect(JSON.stringify(out)).not.toContain('alice');
    expect(JSON.stringify(out)).not.toContain('192.0.2.7');
  });

  it('is deterministic under one key, different under another, and separates kinds', () => {
    expect(both.subject('alice')).toBe(both.subject('alice'));
    expect(both.subject('alice')).toMatch(new RegExp(`^${PSEUDONYM_PREFIX}[A-Za-z0-9_-]{22}$`));
    expect(createPseudonymizer(randomBytes(32), { sourceIp: true, subject: true }).subject('alice')).not.toBe(
      both.subject('alice'),
    );
    expect(both.subject('192.0.2.7')).not.toBe(both.ip('192.0.2.7'));
  });

  it.each([
    { options: { sourceIp: true, subject: false }, sub: 'alice', ip: 'pseudonym' },
    { options: { sourceIp: false, subject: true }, sub: 'pseudonym', ip: '192.0.2.7' },
    { options: { sourceIp: false, subject: false }, sub: 'alice', ip: '192.0.2.7' },
  ])('only what is asked for: $options', ({ options, sub, ip }) => {
    const out = createPseudonymizer(KEY, options).apply(EVENT);
    expect(sub === 'pseudonym' ? out.actor?.sub?.startsWith(PSEUDONYM_PREFIX) : out.actor?.sub === sub).toBe(
      true,
    );
    expect(ip === 'pseudonym' ? out.sourceIp?.startsWith(PSEUDONYM_PREFIX) : out.sourceIp === ip).toBe(true);
  });

  it('pseudonymises targets by type: ip targets as addresses, other types untouched', () => {
    const banned = both.apply({ ...EVENT, target: { type: 'ip', id: '203.0.113.9' } });
    expect(banned.target?.id).toBe(both.ip('203.0.113.9'));
    const client = both.apply({ ...EVENT, target: { type: 'client', id: 'spa' } });
    expect(client.target?.id).toBe('spa');
  });

  it('refuses a key shorter than 256 bits', () => {
    expect(() => createPseudonymizer(randomBytes(16), { sourceIp: true, subject: true })).toThrow(
      /at least 32 bytes/,
    );
  });
});

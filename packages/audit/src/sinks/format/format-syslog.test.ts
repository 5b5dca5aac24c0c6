import type { AuditEvent } from '@gatehouse/core';
import { describe, expect, it } from 'vitest';
import { createSyslogFormatter, escapeParamValue, frameOctetCounting, isValidSdId } from './format-syslog.js';

const event: AuditEvent = {
  time: '2026-03-01T12:00:00.123Z',
  action: 'token.issue',
  outcome: 'success',
  component: 'auth-server',
  actor: { sub: 'user-1', clientId: 'partner' },
  sourceIp: '192.0.2.10',
  requestId: 'req-42',
};
const fixed = { hostname: 'gh1.example', procId: '4242' };
const BOM = '\uFEFF';

function text(buffer: Buffer): string {
  return buffer.toString('utf8');
}

describe('RFC 5424 messages', () => {
  it('writes header, structured data and the ECS JSON after a BOM', () => {
    const format = createSyslogFormatter(fixed);
    const message = format({ seq: 3, id: 'evt-3', event });
    const [head, json] = text(message).split(BOM);
    expect(head).toBe(
      '<86>1 2026-03-01T12:00:00.123Z gh1.example gatehouse 4242 token.issue ' +
        '[gatehouse@32473 id="evt-3" seq="3" outcome="success" service="auth-server" user="user-1" ' +
        'client="partner" ip="192.0.2.10" reqid="req-42"] ',
    );
    expect(JSON.parse(json!)).toMatchObject({ event: { id: 'evt-3', sequence: 3, action: 'token.issue' } });
    // RFC 5424 §6.4: the BOM is the three octets EF BB BF.
    expect(message.subarray(head!.length, head!.length + 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
  });

  it.each([
    ['success', 'authpriv', 86],
    ['failure', 'authpriv', 84],
    ['unknown', 'authpriv', 85],
    ['failure', 'local4', 164],
    ['success', 13, 110],
  ] as const)('PRI of a %s event with facility %s is %i', (outcome, facility, pri) => {
    const message = createSyslogFormatter({ ...fixed, facility })({
      seq: 1,
      id: 'a',
      event: { ...event, outcome },
    });
    expect(text(message)).toMatch(new RegExp(`^<${pri}>1 `));
  });

  it('escapes ", \\ and ] in parameter values (RFC 5424 §6.3.3)', () => {
    expect(escapeParamValue('a"b\\c]d')).toBe('a\\"b\\\\c\\]d');
    const message = createSyslogFormatter(fixed)({
      seq: 1,
      id: 'a',
      event: { ...event, reason: 'x"] [evil@1 y="z' },
    });
    expect(text(message)).toContain(' reason="x\\"\\] [evil@1 y=\\"z"]');
  });

  it('keeps MSGID to 32 printable US-ASCII characters', () => {
    const format = createSyslogFormatter(fixed);
    const long = text(format({ seq: 1, id: 'a', event: { ...event, action: `a.${'b'.repeat(40)}` } }));
    expect(long.split(' ')[5]).toBe(`a.${'b'.repeat(30)}`);
    const odd = text(format({ seq: 1, id: 'a', event: { ...event, action: 'login failed:é' } }));
    expect(odd.split(' ')[5]).toBe('login_failed:_');
    const empty = text(format({ seq: 1, id: 'a', event: { ...event, action: '' } }));
    expect(empty.split(' ')[5]).toBe('-');
  });

  it('writes the NILVALUE for a time that does not parse, and normalises one that does', () => {
    const format = createSyslogFormatter(fixed);
    expect(text(format({ seq: 1, id: 'a', event: { ...event, time: 'yesterday' } })).split(' ')[1]).toBe('-');
    expect(
      text(format({ seq: 1, id: 'a', event: { ...event, time: '2026-03-01T13:00:00+01:00' } })).split(' ')[1],
    ).toBe('2026-03-01T12:00:00.000Z');
  });

  it('cleans the host name and uses a configured SD-ID', () => {
    const message = createSyslogFormatter({ hostname: 'my host', procId: '1', sdId: 'audit@99999.1' })({
      seq: 1,
      id: 'a',
      event,
    });
    expect(text(message)).toMatch(/^<86>1 \S+ my_host gatehouse 1 token\.issue \[audit@99999\.1 /);
  });

  it('refuses a facility or SD-ID it cannot write', () => {
    expect(() => createSyslogFormatter({ facility: 24 })).toThrow(/facility/);
    expect(() => createSyslogFormatter({ sdId: 'gatehouse' })).toThrow(/SD-ID/);
    for (const bad of ['a b@1', 'a=b@1', 'a]@1', 'a"@1', `${'x'.repeat(30)}@123`, 'a@b']) {
      expect(isValidSdId(bad)).toBe(false);
    }
    expect(isValidSdId('gatehouse@32473')).toBe(true);
  });
});

describe('octet-counting framing (RFC 6587 §3.4.1)', () => {
  it('prefixes the length in octets, not characters', () => {
    const message = Buffer.from('<86>1 - - - - - - \uFEFFé', 'utf8');
    const frame = frameOctetCounting(message);
    expect(frame.toString('utf8')).toBe(`${message.length} ${message.toString('utf8')}`);
    expect(message.length).toBeGreaterThan(message.toString('utf8').length);
  });
});

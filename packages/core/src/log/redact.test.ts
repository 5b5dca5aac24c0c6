import { describe, expect, it } from 'vitest';
import { REDACTED, isSensitiveKey, redactSecrets } from './redact.js';

describe('isSensitiveKey', () => {
  const sensitive = [
    'authorization',
    'Authorization',
    'proxy-authorization',
    'cookie',
    'Cookie',
    'set-cookie',
    'client_secret',
    'clientSecret',
    'SECRET',
    'password',
    'newPassword',
    'passwd',
    'token',
    'access_token',
    'refresh_token',
    'id_token',
    'accessToken',
    'x-csrf-token',
  ];
  const harmless = ['sub', 'user', 'scope', 'authorizationCode_url', 'cookies_enabled', 'kid', 'method', ''];

  it.each(sensitive)('%s is sensitive', (key) => {
    expect(isSensitiveKey(key)).toBe(true);
  });
  it.each(harmless)('%s is not sensitive', (key) => {
    expect(isSensitiveKey(key)).toBe(false);
  });
});

describe('redactSecrets', () => {
  it('passes primitives through', () => {
    for (const value of [null, undefined, 1, 'text', true, 10n]) expect(redactSecrets(value)).toBe(value);
  });

  it('replaces sensitive values wherever they sit, whatever their type', () => {
    const input = {
      authorization: 'Bearer abc',
      sub: 'user-1',
      body: { client_secret: 's3cr3t', grant_type: 'refresh_token', refresh_token: { nested: 'r' } },
      list: [{ password: 'p' }, 'plain', [{ access_token: 'a' }]],
    };
    expect(redactSecrets(input)).toEqual({
      authorization: REDACTED,
      sub: 'user-1',
      body: { client_secret: REDACTED, grant_type: 'refresh_token', refresh_token: REDACTED },
      list: [{ password: REDACTED }, 'plain', [{ access_token: REDACTED }]],
    });
  });

  it('never modifies its input', () => {
    const input = { headers: { cookie: 'sid=1' }, items: [{ token: 't' }] };
    const snapshot = structuredClone(input);
    const out = redactSecrets(input);
    expect(input).toEqual(snapshot);
    expect(out).not.toBe(input);
  });

  it('handles objects without a prototype', () => {
    const headers = Object.assign(Object.create(null) as Record<string, unknown>, {
      authorization: 'x',
      a: 'b',
    });
    expect(redactSecrets({ headers })).toEqual({ headers: { authorization: REDACTED, a: 'b' } });
  });

  it('stops at depth 8 with a marker instead of recursing forever', () => {
    type Nested = { next?: Nested; token?: string; level: number };
    let deep: Nested = { level: 10, token: 't' };
    for (let level = 9; level >= 0; level--) deep = { level, next: deep };
    let out = redactSecrets(deep) as Nested | string;
    let level = 0;
    while (typeof out === 'object' && out.next !== undefined) {
      out = out.next;
      level++;
    }
    expect(level).toBe(8);
    expect(out).toBe('[Truncated]');
  });

  it('redacts the enumerable members of class instances, which JSON would serialize', () => {
    class Credentials {
      readonly user = 'u';
      readonly clientSecret = 'secret';
    }
    const out = redactSecrets({ creds: new Credentials() });
    expect(JSON.parse(JSON.stringify(out))).toEqual({ creds: { user: 'u', clientSecret: REDACTED } });
  });

  it('keeps objects with their own JSON form as they are', () => {
    const date = new Date(0);
    const url = new URL('https://example.test/a');
    const out = redactSecrets({ date, url }) as Record<string, unknown>;
    expect(out['date']).toBe(date);
    expect(out['url']).toBe(url);
  });

  it('copies errors with their prototype, message, stack and cause, redacting their members', () => {
    const cause = Object.assign(new Error('inner'), { password: 'p' });
    const err = Object.assign(new RangeError('outer', { cause }), {
      config: { headers: { authorization: 'Bearer x', accept: '*/*' } },
      code: 'E1',
    });
    const out = redactSecrets(err) as RangeError & Record<string, unknown>;
    expect(out).not.toBe(err);
    expect(out).toBeInstanceOf(RangeError);
    expect(out.message).toBe('outer');
    expect(out.stack).toBe(err.stack);
    expect(Object.keys(out)).toEqual(['config', 'code']);
    expect(out['config']).toEqual({ headers: { authorization: REDACTED, accept: '*/*' } });
    expect(out['code']).toBe('E1');
    expect(out.cause).toBeInstanceOf(Error);
    expect((out.cause as Record<string, unknown>)['password']).toBe(REDACTED);
    // The original keeps its values.
    expect(err.config.headers.authorization).toBe('Bearer x');
    expect(cause.password).toBe('p');
  });

  it('copies the errors of an AggregateError', () => {
    const inner = Object.assign(new Error('a'), { token: 't' });
    const out = redactSecrets(new AggregateError([inner], 'many')) as AggregateError;
    expect(out).toBeInstanceOf(AggregateError);
    expect((out.errors[0] as Record<string, unknown>)['token']).toBe(REDACTED);
  });

  it('survives a cycle', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a['self'] = a;
    expect(() => redactSecrets(a)).not.toThrow();
  });
});

describe('redactSecrets on DOMException errors', () => {
  it('copies an AbortError (prototype getters) into a plain error with its name and message', () => {
    const abort = new DOMException('This operation was aborted', 'AbortError');
    const copy = redactSecrets(abort) as Error;
    expect(copy).toBeInstanceOf(Error);
    expect(copy.name).toBe('AbortError');
    expect(copy.message).toBe('This operation was aborted');
    expect(() => JSON.stringify({ name: copy.name, message: copy.message })).not.toThrow();
  });

  it('keeps a DOMException nested as a cause readable', () => {
    const err = new Error('upstream failed', { cause: AbortSignal.abort().reason });
    const copy = redactSecrets(err) as Error & { cause: Error };
    expect(copy.cause.name).toBe('AbortError');
    expect(typeof copy.cause.message).toBe('string');
  });
});

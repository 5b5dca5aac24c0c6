import { describe, expect, it } from 'vitest';
import { buildCookieSettings, clearCookie, readCookie, serializeCookie } from './cookies.js';

const id = 'A'.repeat(43);

describe('cookies', () => {
  it('https: __Host- names and Secure', () => {
    const settings = buildCookieSettings(true, 'strict');
    expect(settings.names.session).toBe('__Host-bff_session');
    expect(serializeCookie(settings, settings.names.session, id, { maxAgeSec: 60 })).toBe(
      `__Host-bff_session=${id}; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure`,
    );
    expect(clearCookie(settings, 'x')).toContain('Max-Age=0');
  });

  it('http loopback: no prefix, no Secure', () => {
    const settings = buildCookieSettings(false, 'lax');
    expect(serializeCookie(settings, 'bff_login', id, { maxAgeSec: 1 })).not.toContain('Secure');
  });

  it.each([
    [undefined, undefined],
    [`bff_session=${id}`, id],
    [`other=1; bff_session=${id}`, id],
    [`bff_session=${id}; bff_session=${id}`, undefined],
    ['bff_session=short', undefined],
    [`xbff_session=${id}`, undefined],
    ['bff_session', undefined],
  ])('reads %j as %j', (header, expected) => {
    expect(readCookie(header, 'bff_session')).toBe(expected);
  });
});

import { describe, expect, it } from 'vitest';
import { canonicalizeTarget, isCanonicalPath, type PathRefusal } from './canonical-path.js';

describe('canonicalizeTarget', () => {
  // raw target → canonical path, query
  const accepted: ReadonlyArray<readonly [string, string, string]> = [
    ['/', '/', ''],
    ['/accounts', '/accounts', ''],
    ['/accounts/42/', '/accounts/42/', ''],
    ['/a-b_c~d.e', '/a-b_c~d.e', ''],
    ["/a!$&'()*+,=:@b", "/a!$&'()*+,=:@b", ''],
    ['/accounts?limit=10&sort=-id', '/accounts', 'limit=10&sort=-id'],
    ['/accounts?', '/accounts', ''],
    ['/a?b?c', '/a', 'b?c'],
    ['/a?x=%2F..%2F&y=%252F&z=;', '/a', 'x=%2F..%2F&y=%252F&z=;'], // the query is kept as received
    ['/a?q=%C0%AE\\', '/a', 'q=%C0%AE\\'],
    // unreserved escapes decode (RFC 3986 §2.3)
    ['/%61%62%63', '/abc', ''],
    ['/%7E%7euser', '/~~user', ''],
    ['/a%2Db%5Fc%2ed', '/a-b_c.d', ''],
    ['/%30%39%41%5A', '/09AZ', ''],
    // other escapes stay, in uppercase (RFC 3986 §6.2.2.1)
    ['/a%20b', '/a%20b', ''],
    ['/a%3fb', '/a%3Fb', ''],
    ['/a%23b', '/a%23b', ''],
    ['/%40%3A%2c', '/%40%3A%2C', ''],
    ['/caf%c3%a9', '/caf%C3%A9', ''],
    ['/%E2%82%AC', '/%E2%82%AC', ''], // €
    ['/%F0%9F%98%80', '/%F0%9F%98%80', ''], // 😀
    ['/%F4%8F%BF%BF', '/%F4%8F%BF%BF', ''], // U+10FFFF
    ['/%ED%9F%BF', '/%ED%9F%BF', ''], // U+D7FF, just below the surrogates
    // duplicate slashes merge
    ['//accounts', '/accounts', ''],
    ['/a//b///c', '/a/b/c', ''],
    ['/a//', '/a/', ''],
    ['//', '/', ''],
    ['///?x', '/', 'x'],
    // dot segments (RFC 3986 §5.2.4)
    ['/.', '/', ''],
    ['/./a', '/a', ''],
    ['/a/.', '/a/', ''],
    ['/a/./b', '/a/b', ''],
    ['/a/b/..', '/a/', ''],
    ['/a/b/../c', '/a/c', ''],
    ['/a/..', '/', ''],
    ['/a/../b/./c/../d', '/b/d', ''],
    ['/admin/../public', '/public', ''],
    ['/a/%2E%2E/b', '/b', ''],
    ['/a/.%2e/b', '/b', ''],
    ['/a/%2e/b', '/a/b', ''],
    ['/a/..?x=1', '/', 'x=1'],
    // not dot segments
    ['/.well-known/jwks.json', '/.well-known/jwks.json', ''],
    ['/a/...', '/a/...', ''],
    ['/a/..b/.c', '/a/..b/.c', ''],
    ['/a/b..', '/a/b..', ''],
    // odd but harmless ASCII is kept as received
    ['/a|b{c}', '/a|b{c}', ''],
  ];

  it.each(accepted)('%s → %s ? %s', (raw, path, query) => {
    expect(canonicalizeTarget(raw)).toEqual({ ok: true, path, query });
  });

  const refused: ReadonlyArray<readonly [string, PathRefusal]> = [
    // request-target forms other than origin-form
    ['', 'not-origin-form'],
    ['*', 'not-origin-form'],
    ['http://internal/admin', 'not-origin-form'],
    ['internal:8080', 'not-origin-form'],
    ['a/b', 'not-origin-form'],
    ['?x', 'not-origin-form'],
    ['%2Fadmin', 'not-origin-form'],
    // fragments
    ['/a#b', 'fragment'],
    ['/a?b#c', 'fragment'],
    ['/#', 'fragment'],
    // encoded separators
    ['/a%2Fb', 'encoded-slash'],
    ['/a%2fb', 'encoded-slash'],
    ['/admin%2F..%2Fpublic', 'encoded-slash'],
    ['/..%2F..%2Fetc/passwd', 'encoded-slash'],
    ['/a%5Cb', 'backslash'],
    ['/a%5c..%5cb', 'backslash'],
    ['/a\\b', 'backslash'],
    ['/..\\admin', 'backslash'],
    // NUL and control characters, raw or escaped
    ['/a\u0000b', 'nul'],
    ['/a%00b', 'nul'],
    ['/a.php%00.jpg', 'nul'],
    ['/a?b=%00', 'nul'],
    ['/a?b=\u0000', 'nul'],
    ['/a\tb', 'control-char'],
    ['/a\r\nX-Injected: 1', 'control-char'],
    ['/a%0D%0AX-Injected:%201', 'control-char'],
    ['/a%0ab', 'control-char'],
    ['/a%1Fb', 'control-char'],
    ['/a%7Fb', 'control-char'],
    ['/a\u007fb', 'control-char'],
    ['/a b', 'control-char'],
    ['/a?b c', 'control-char'],
    ['/a?b\r\nc', 'control-char'],
    ['/a?b\u007f', 'control-char'],
    // path parameters
    ['/a;b', 'semicolon'],
    ['/admin;/x', 'semicolon'],
    ['/..;/admin', 'semicolon'],
    ['/a%3Bb', 'semicolon'],
    ['/a%3bjsessionid=1', 'semicolon'],
    // double encoding
    ['/a%252Fb', 'double-encoding'],
    ['/%252e%252e/admin', 'double-encoding'],
    ['/a%25', 'double-encoding'],
    // malformed escapes
    ['/a%', 'bad-escape'],
    ['/a%2', 'bad-escape'],
    ['/a%2?x', 'bad-escape'],
    ['/a%zz', 'bad-escape'],
    ['/a%g0', 'bad-escape'],
    ['/a%%30', 'bad-escape'],
    ['/a%C3%A', 'bad-escape'],
    ['/a%C3%xx', 'bad-escape'],
    // invalid or overlong UTF-8
    ['/%C0%AE%C0%AE/admin', 'bad-utf8'], // overlong '.'
    ['/%C0%AF', 'bad-utf8'], // overlong '/'
    ['/%C1%9C', 'bad-utf8'], // overlong '\'
    ['/%E0%80%AF', 'bad-utf8'], // 3-byte overlong '/'
    ['/%F0%80%80%AF', 'bad-utf8'], // 4-byte overlong '/'
    ['/%ED%A0%80', 'bad-utf8'], // surrogate U+D800
    ['/%ED%BF%BF', 'bad-utf8'], // surrogate U+DFFF
    ['/%F4%90%80%80', 'bad-utf8'], // U+110000
    ['/%F5%80%80%80', 'bad-utf8'],
    ['/%FF', 'bad-utf8'],
    ['/%80', 'bad-utf8'], // lone continuation byte
    ['/%C3', 'bad-utf8'], // truncated
    ['/%C3a', 'bad-utf8'],
    ['/%C3%41', 'bad-utf8'], // continuation out of range
    ['/%E2%82', 'bad-utf8'],
    ['/%E2%82?x', 'bad-utf8'],
    // dot segments that climb above the root
    ['/..', 'dot-segment-escape'],
    ['/../etc/passwd', 'dot-segment-escape'],
    ['/a/../..', 'dot-segment-escape'],
    ['/a/../../b', 'dot-segment-escape'],
    ['/%2e%2e/admin', 'dot-segment-escape'],
    ['/.%2E/admin', 'dot-segment-escape'],
    ['//../admin', 'dot-segment-escape'],
    ['/./../admin', 'dot-segment-escape'],
    // raw non-ASCII
    ['/café', 'non-ascii'],
    ['/a\u00ffb', 'non-ascii'],
    ['/\u2215admin', 'non-ascii'], // division slash
    ['/\uff0e\uff0e/admin', 'non-ascii'], // fullwidth full stops
    ['/a?q=é', 'non-ascii'],
  ];

  it.each(refused)('refuses %j (%s)', (raw, reason) => {
    expect(canonicalizeTarget(raw)).toEqual({ ok: false, reason });
  });

  it('returns an already-canonical path unchanged', () => {
    const raw = '/v1/accounts/42/transactions';
    const target = canonicalizeTarget(raw);
    expect(target.ok && target.path).toBe(raw);
  });

  it('is idempotent on every accepted case', () => {
    for (const [raw] of accepted) {
      const first = canonicalizeTarget(raw);
      if (!first.ok) throw new Error(`refused ${raw}`);
      expect(canonicalizeTarget(first.path)).toEqual({ ok: true, path: first.path, query: '' });
    }
  });
});

describe('isCanonicalPath', () => {
  it.each([
    ['/', true],
    ['/accounts/42', true],
    ['/accounts/', true],
    ['/caf%C3%A9', true],
    ['/a%20b', true],
    ['/caf%c3%a9', false],
    ['/%61', false],
    ['/a//b', false],
    ['/a/./b', false],
    ['/a/../b', false],
    ['/a?x=1', false],
    ['/a?', false],
    ['/../a', false],
    ['/a%2Fb', false],
    ['a', false],
    ['', false],
  ])('%j → %s', (path, expected) => {
    expect(isCanonicalPath(path)).toBe(expected);
  });
});

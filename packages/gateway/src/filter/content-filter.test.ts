import { GatehouseError } from '@gatehouse/core';
import { describe, expect, it } from 'vitest';
import {
  buildContentFilter,
  decodeLeniently,
  hasNestedQuantifier,
  MAX_INSPECTED_LENGTH,
  type ContentFilterOptions,
  type FilterRequest,
} from './content-filter.js';

type Headers = FilterRequest['headers'];

function request(overrides: Partial<FilterRequest> = {}): FilterRequest {
  return { method: 'GET', path: '/api/things', query: '', headers: {}, ...overrides };
}

function refusalOf(options: ContentFilterOptions): string {
  try {
    buildContentFilter(options);
  } catch (error) {
    expect(error).toBeInstanceOf(GatehouseError);
    expect((error as GatehouseError).code).toBe('ERR_CONFIG_INVALID');
    return (error as GatehouseError).detail ?? '';
  }
  throw new Error('options were accepted');
}

describe('methods', () => {
  const filter = buildContentFilter({ methods: ['GET', 'POST'], maxBodyBytes: 1024 });

  it.each([
    ['GET', undefined],
    ['POST', undefined],
    ['DELETE', 'ERR_GATEWAY_METHOD_NOT_ALLOWED'],
    ['TRACE', 'ERR_GATEWAY_METHOD_NOT_ALLOWED'],
    ['CONNECT', 'ERR_GATEWAY_METHOD_NOT_ALLOWED'],
    // RFC 9110 §9.1: method names are case-sensitive
    ['get', 'ERR_GATEWAY_METHOD_NOT_ALLOWED'],
  ])('%s → %s', (method, code) => {
    expect(filter.check(request({ method }))?.code).toBe(code);
  });

  it('answers 405 with Allow', () => {
    expect(filter.check(request({ method: 'PUT' }))).toEqual({
      code: 'ERR_GATEWAY_METHOD_NOT_ALLOWED',
      detail: 'method not in the route methods',
      allow: 'GET, POST',
    });
  });

  it('allows any method when none are listed', () => {
    expect(buildContentFilter({ maxBodyBytes: 0 }).check(request({ method: 'PROPFIND' }))).toBeUndefined();
  });
});

describe('body size and media type', () => {
  const filter = buildContentFilter({
    methods: ['GET', 'POST'],
    contentTypes: ['application/json', 'Application/Merge-Patch+JSON', 'text/*'],
    maxBodyBytes: 10,
  });
  const post = (headers: Headers) => filter.check(request({ method: 'POST', headers }));

  it.each([
    ['no body', {}, undefined],
    ['an empty body without a type', { 'content-length': '0' }, undefined],
    ['an empty body of another type', { 'content-length': '0', 'content-type': 'image/png' }, undefined],
    ['JSON', { 'content-length': '10', 'content-type': 'application/json' }, undefined],
    [
      'JSON with parameters',
      { 'content-length': '2', 'content-type': 'application/json; charset=utf-8' },
      undefined,
    ],
    ['JSON in another case', { 'content-length': '2', 'content-type': 'APPLICATION/JSON' }, undefined],
    [
      'a +json type listed',
      { 'content-length': '2', 'content-type': 'application/merge-patch+json' },
      undefined,
    ],
    ['a type in a listed range', { 'content-length': '2', 'content-type': 'text/csv' }, undefined],
    [
      'one byte too many',
      { 'content-length': '11', 'content-type': 'application/json' },
      'ERR_GATEWAY_PAYLOAD_TOO_LARGE',
    ],
    ['a huge length', { 'content-length': '999999999999999' }, 'ERR_GATEWAY_PAYLOAD_TOO_LARGE'],
    ['a length beyond 15 digits', { 'content-length': '1000000000000000' }, 'ERR_GATEWAY_BAD_REQUEST'],
    ['a negative length', { 'content-length': '-1' }, 'ERR_GATEWAY_BAD_REQUEST'],
    ['an exponent', { 'content-length': '1e3' }, 'ERR_GATEWAY_BAD_REQUEST'],
    ['a signed length', { 'content-length': '+5' }, 'ERR_GATEWAY_BAD_REQUEST'],
    ['a padded length', { 'content-length': ' 5' }, 'ERR_GATEWAY_BAD_REQUEST'],
    ['a list of lengths', { 'content-length': '5, 5' }, 'ERR_GATEWAY_BAD_REQUEST'],
    ['repeated lengths', { 'content-length': ['5', '5'] }, 'ERR_GATEWAY_BAD_REQUEST'],
    ['a body without a type', { 'content-length': '5' }, 'ERR_GATEWAY_UNSUPPORTED_MEDIA_TYPE'],
    [
      'a chunked body without a type',
      { 'transfer-encoding': 'chunked' },
      'ERR_GATEWAY_UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'a chunked XML body',
      { 'transfer-encoding': 'chunked', 'content-type': 'application/xml' },
      'ERR_GATEWAY_UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'a form',
      { 'content-length': '5', 'content-type': 'application/x-www-form-urlencoded' },
      'ERR_GATEWAY_UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'a lookalike type',
      { 'content-length': '5', 'content-type': 'application/jsonx' },
      'ERR_GATEWAY_UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'a type list',
      { 'content-length': '5', 'content-type': 'text/plain, application/json' },
      'ERR_GATEWAY_UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'a wildcard type',
      { 'content-length': '5', 'content-type': '*/*' },
      'ERR_GATEWAY_UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'a type without subtype',
      { 'content-length': '5', 'content-type': 'application' },
      'ERR_GATEWAY_UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'repeated types',
      { 'content-length': '5', 'content-type': ['application/json', 'text/plain'] },
      'ERR_GATEWAY_UNSUPPORTED_MEDIA_TYPE',
    ],
  ])('%s', (_name, headers, code) => {
    expect(post(headers)?.code).toBe(code);
  });

  it('checks the method before the body', () => {
    expect(filter.check(request({ method: 'PUT', headers: { 'content-length': '99' } }))?.code).toBe(
      'ERR_GATEWAY_METHOD_NOT_ALLOWED',
    );
  });

  it('accepts any media type when none are listed', () => {
    const open = buildContentFilter({ maxBodyBytes: 10 });
    expect(open.check(request({ method: 'POST', headers: { 'content-length': '5' } }))).toBeUndefined();
    expect(
      open.check(request({ method: 'POST', headers: { 'content-length': '5', 'content-type': 'x/y' } })),
    ).toBeUndefined();
  });

  it('accepts everything in the full range', () => {
    const any = buildContentFilter({ contentTypes: ['*/*'], maxBodyBytes: 10 });
    expect(
      any.check(request({ method: 'POST', headers: { 'content-length': '5', 'content-type': 'x/y' } })),
    ).toBeUndefined();
    expect(any.check(request({ method: 'POST', headers: { 'content-length': '5' } }))?.code).toBe(
      'ERR_GATEWAY_UNSUPPORTED_MEDIA_TYPE',
    );
  });

  it('a zero limit refuses any declared body', () => {
    const none = buildContentFilter({ maxBodyBytes: 0 });
    expect(none.check(request({ method: 'POST', headers: { 'content-length': '1' } }))?.code).toBe(
      'ERR_GATEWAY_PAYLOAD_TOO_LARGE',
    );
    expect(none.check(request({ method: 'POST', headers: { 'content-length': '0' } }))).toBeUndefined();
  });
});

describe('deny rules (attack table)', () => {
  const filter = buildContentFilter({
    maxBodyBytes: 1024,
    deny: {
      path: ['/\\.(?:git|svn|env)(?:/|$)', '/wp-admin', '\\.\\.'],
      query: ['<script', 'union\\s+select', '\\$\\{jndi:', '\\bsleep\\s*\\('],
      headers: { 'User-Agent': ['sqlmap', 'nikto'], 'x-original-url': ['.'], referer: ['javascript:'] },
    },
  });

  it.each<[string, Partial<FilterRequest>, boolean]>([
    ['a plain request', {}, false],
    ['an innocent query', { query: 'q=script&sort=select' }, false],
    ['a dot-git path', { path: '/app/.git/config' }, true],
    ['a dot-env path', { path: '/.env' }, true],
    ['a path that merely contains git', { path: '/digital/.github-pages' }, false],
    ['an encoded dot-env path', { path: '/%2Eenv' }, true],
    ['an upper-case path', { path: '/WP-ADMIN/setup' }, true],
    ['encoded dot-segments', { path: '/a/%2E%2E/b' }, true],
    ['a script tag', { query: 'q=<script>' }, true],
    ['an encoded script tag', { query: 'q=%3Cscript%3E' }, true],
    ['a mixed-encoded script tag', { query: 'q=%3Cscr%69pt%3E' }, true],
    ['an upper-case script tag', { query: 'q=%3CSCRIPT%3E' }, true],
    ['a script tag next to a malformed escape', { query: 'x=%zz&q=%3Cscript' }, true],
    ['a script tag next to invalid UTF-8', { query: 'x=%C0&q=%3Cscript' }, true],
    ['SQL with plus as space', { query: 'id=1+UNION+SELECT+password' }, true],
    ['SQL with encoded spaces', { query: 'id=1%20union%09select' }, true],
    ['log4shell', { query: 'x=%24%7Bjndi:ldap://e/a%7D' }, true],
    ['time-based SQL', { query: 'id=1%20AND%20SLEEP(5)' }, true],
    ['a scanner user agent', { headers: { 'user-agent': 'sqlmap/1.7' } }, true],
    ['a scanner user agent in another case', { headers: { 'user-agent': 'Mozilla Nikto' } }, true],
    ['a normal user agent', { headers: { 'user-agent': 'curl/8.0' } }, false],
    ['a rewrite header (any value)', { headers: { 'x-original-url': '/admin' } }, true],
    [
      'a repeated header, second value bad',
      { headers: { referer: ['https://a.example', 'javascript:alert(1)'] } },
      true,
    ],
    [
      'a repeated header, all good',
      { headers: { referer: ['https://a.example', 'https://b.example'] } },
      false,
    ],
    ['a query too long to inspect', { query: `q=${'a'.repeat(MAX_INSPECTED_LENGTH)}` }, true],
    ['a padded payload', { query: `${'a'.repeat(MAX_INSPECTED_LENGTH)}&q=<script` }, true],
    [
      'a header too long to inspect',
      { headers: { 'user-agent': 'a'.repeat(MAX_INSPECTED_LENGTH + 1) } },
      true,
    ],
    ['a path too long to inspect', { path: `/${'a'.repeat(MAX_INSPECTED_LENGTH)}` }, true],
    ['a query at the inspection limit', { query: 'a'.repeat(MAX_INSPECTED_LENGTH) }, false],
  ])('%s', (_name, overrides, refused) => {
    const refusal = filter.check(request(overrides));
    expect(refusal?.code).toBe(refused ? 'ERR_GATEWAY_REQUEST_DENIED' : undefined);
  });

  it('names the rule in the detail, never the value', () => {
    const refusal = filter.check(request({ query: 'id=1+UNION+SELECT+password' }));
    expect(refusal).toEqual({ code: 'ERR_GATEWAY_REQUEST_DENIED', detail: 'query matches deny rule 1' });
    expect(filter.check(request({ headers: { 'user-agent': 'sqlmap' } }))?.detail).toBe(
      'header user-agent matches deny rule 0',
    );
    expect(filter.check(request({ query: 'a'.repeat(MAX_INSPECTED_LENGTH + 1) }))?.detail).toBe(
      'query too long to inspect',
    );
  });

  it('fields without rules are not bounded', () => {
    const pathOnly = buildContentFilter({ maxBodyBytes: 0, deny: { path: ['^/admin'] } });
    expect(pathOnly.check(request({ query: 'a'.repeat(MAX_INSPECTED_LENGTH * 2) }))).toBeUndefined();
  });

  it('a crafted input against an allowed pattern stays bounded', () => {
    // `^(a|b)*c$` is refused by nothing, yet the input given to it is at most 8 KiB.
    const bounded = buildContentFilter({ maxBodyBytes: 0, deny: { query: ['^(?:a|b)*c$'] } });
    expect(bounded.check(request({ query: `${'a'.repeat(MAX_INSPECTED_LENGTH)}c` }))?.code).toBe(
      'ERR_GATEWAY_REQUEST_DENIED',
    );
    expect(bounded.check(request({ query: 'ababc' }))?.code).toBe('ERR_GATEWAY_REQUEST_DENIED');
  });
});

describe('options are checked at build time', () => {
  it.each<[string, ContentFilterOptions, string]>([
    ['an invalid regex', { maxBodyBytes: 1, deny: { path: ['(unclosed'] } }, 'deny.path[0]'],
    ['an invalid unicode escape', { maxBodyBytes: 1, deny: { query: ['\\p{Nope}'] } }, 'deny.query[0]'],
    [
      'a nested quantifier',
      { maxBodyBytes: 1, deny: { query: ['ok', '(a+)+$'] } },
      'deny.query[1]: nested unbounded quantifier',
    ],
    [
      'a nested star',
      { maxBodyBytes: 1, deny: { headers: { 'user-agent': ['(.*)*x'] } } },
      'deny.headers.user-agent[0]',
    ],
    ['an empty pattern', { maxBodyBytes: 1, deny: { path: [''] } }, 'must be a non-empty string'],
    [
      'rules that are not a list',
      { maxBodyBytes: 1, deny: { path: '^/a' as unknown as string[] } },
      'deny.path: must be an array',
    ],
    [
      'a bad header name',
      { maxBodyBytes: 1, deny: { headers: { 'bad name': ['x'] } } },
      '"bad name" is not a header name',
    ],
    ['a bad method', { maxBodyBytes: 1, methods: ['GET POST'] }, '"GET POST" is not a method name'],
    ['no methods', { maxBodyBytes: 1, methods: [] }, 'methods: must not be empty'],
    [
      'a media type with parameters',
      { maxBodyBytes: 1, contentTypes: ['application/json; charset=utf-8'] },
      'contentTypes',
    ],
    [
      'a media type without subtype',
      { maxBodyBytes: 1, contentTypes: ['json'] },
      '"json" is not a media type',
    ],
    ['a negative size', { maxBodyBytes: -1 }, 'maxBodyBytes'],
    ['a fractional size', { maxBodyBytes: 1.5 }, 'maxBodyBytes'],
    ['an infinite size', { maxBodyBytes: Number.POSITIVE_INFINITY }, 'maxBodyBytes'],
  ])('refuses %s', (_name, options, expected) => {
    expect(refusalOf(options)).toContain(expected);
  });

  it('lists every problem at once', () => {
    const detail = refusalOf({ maxBodyBytes: -1, methods: ['bad method'], deny: { path: ['('] } });
    expect(detail).toContain('maxBodyBytes');
    expect(detail).toContain('methods');
    expect(detail).toContain('deny.path[0]');
  });
});

describe('hasNestedQuantifier', () => {
  it.each([
    '(a+)+',
    '(a*)*',
    '(.*)*',
    '^(\\w+\\s?)*$',
    '(x+x+)+y',
    '((ab)+)+',
    '(?:a+){2,}',
    '(a+){1,100}',
    '([a-z]+)*',
    '(?<n>\\d+)+',
    '(?:(?:a)+b)+?',
    '(a{1,})+',
  ])('refuses %s', (source) => {
    expect(hasNestedQuantifier(source)).toBe(true);
  });

  it.each([
    '^/admin',
    '(ab)+',
    'a+b+',
    '(\\d+\\.){3}\\d+',
    '[(a+)]+',
    '\\(a+\\)+',
    '(a+)?',
    '(?:foo|bar)+',
    '(a{2})+',
    '(a{1,5})+',
    '(?=a+)b',
    '[\\]+]+(x)+',
  ])('accepts %s', (source) => {
    expect(hasNestedQuantifier(source)).toBe(false);
  });
});

describe('decodeLeniently', () => {
  it.each([
    ['plain', false, 'plain'],
    ['a+b', false, 'a+b'],
    ['a+b', true, 'a b'],
    ['%3Cscript%3E', false, '<script>'],
    ['%zz%3C', false, '%zz<'],
    ['%C0%3C', false, '\uFFFD<'],
    ['caf%C3%A9%', false, 'café%'],
  ])('%s (plus as space: %s) → %s', (text, plusIsSpace, expected) => {
    expect(decodeLeniently(text, plusIsSpace)).toBe(expected);
  });
});

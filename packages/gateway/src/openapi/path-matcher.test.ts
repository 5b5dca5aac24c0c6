import { describe, expect, it } from 'vitest';
import { buildPathMatcher, normalizeLiteral } from './path-matcher.js';

function matcherOf(templates: readonly string[]) {
  const problems: string[] = [];
  const matcher = buildPathMatcher(
    templates.map((template) => ({ template, value: template, at: template })),
    problems,
  );
  return { matcher, problems };
}

describe('buildPathMatcher', () => {
  const { matcher, problems } = matcherOf([
    '/',
    '/accounts',
    '/accounts/',
    '/accounts/me',
    '/accounts/{id}',
    '/accounts/{id}/orders/{orderId}',
    '/accounts/me/orders/latest',
    '/files/{name}.{ext}',
    '/files/report-{id}',
    '/files/{path}',
    '/v1/items:batch',
    '/caf%c3%a9',
    '/space here',
  ]);

  it('accepts every template', () => {
    expect(problems).toEqual([]);
  });

  it.each([
    ['/', '/', {}],
    ['/accounts', '/accounts', {}],
    ['/accounts/', '/accounts/', {}],
    ['/accounts/me', '/accounts/me', {}],
    ['/accounts/acc_1', '/accounts/{id}', { id: 'acc_1' }],
    ['/accounts/a%20b', '/accounts/{id}', { id: 'a b' }],
    ['/accounts/caf%C3%A9', '/accounts/{id}', { id: 'café' }],
    // literal `me` wins at its level, but backtracks to `{id}` when the rest only exists there
    ['/accounts/me/orders/latest', '/accounts/me/orders/latest', {}],
    ['/accounts/me/orders/o1', '/accounts/{id}/orders/{orderId}', { id: 'me', orderId: 'o1' }],
    ['/accounts/a1/orders/latest', '/accounts/{id}/orders/{orderId}', { id: 'a1', orderId: 'latest' }],
    ['/files/report-7', '/files/report-{id}', { id: '7' }],
    ['/files/a.b.tar', '/files/{name}.{ext}', { name: 'a', ext: 'b.tar' }],
    ['/files/readme', '/files/{path}', { path: 'readme' }],
    // a partial parameter needs a character: falls back to the whole-segment template
    ['/files/report-', '/files/{path}', { path: 'report-' }],
    ['/v1/items:batch', '/v1/items:batch', {}],
    ['/caf%C3%A9', '/caf%c3%a9', {}],
    ['/space%20here', '/space here', {}],
  ])('%s → %s', (path, template, params) => {
    const found = matcher.find(path);
    expect(found?.entry.template).toBe(template);
    expect(found?.params).toEqual(params);
  });

  it.each([
    ['', 'not origin-form'],
    ['accounts', 'no leading slash'],
    ['/accounts//', 'empty parameter'],
    ['/accounts/a/b', 'a parameter never spans a slash'],
    ['/accounts/a/orders', 'template needs one more segment'],
    ['/accounts/a/orders/', 'empty parameter at the end'],
    ['/files/', 'empty parameter'],
    ['/Accounts', 'paths are case-sensitive'],
    ['/accounts/%E9', 'invalid UTF-8 in a parameter'],
    ['/accounts/%zz', 'malformed escape in a parameter'],
    ['/v1/items%3Abatch', 'an encoded reserved character is not the literal'],
    ['/nope', 'undeclared'],
  ])('%s is not matched (%s)', (path) => {
    expect(matcher.find(path)).toBeUndefined();
  });

  it.each([
    [['accounts'], "must start with '/'"],
    [['/a/{id', '/b'], 'unbalanced braces'],
    [['/a/id}'], 'unbalanced braces'],
    [['/a/{}'], 'empty parameter name'],
    [['/a/{x}{y}'], 'two parameters without a separator'],
    [['/a/{x}/b/{x}'], 'a parameter name is repeated'],
    [['/a/{__proto__}'], 'reserved parameter name'],
    [['/a/{x}', '/a/{y}'], 'ambiguous'],
    [['/a/{x}.json', '/a/{y}.json'], 'ambiguous'],
  ])('refuses %j (%s)', (templates, problem) => {
    expect(matcherOf(templates).problems.join('\n')).toContain(problem);
  });
});

describe('normalizeLiteral', () => {
  it.each([
    ['abc', 'abc'],
    ['%7euser', '~user'],
    ['%2f', '%2F'],
    ['a b', 'a%20b'],
    ['é', '%C3%A9'],
    ['😀', '%F0%9F%98%80'],
    ["items:batch@v1!$&'()*+,;=", "items:batch@v1!$&'()*+,;="],
    ['100%', '100%25'],
  ])('%s → %s', (text, expected) => {
    expect(normalizeLiteral(text)).toBe(expected);
  });
});

import { describe, expect, it } from 'vitest';
import { parseQuery } from './parse-query.js';

describe('parseQuery', () => {
  it.each([
    ['', {}],
    ['a=1', { a: ['1'] }],
    ['a=1&a=2&b=', { a: ['1', '2'], b: [''] }],
    ['flag', { flag: [''] }],
    ['&&a=1&', { a: ['1'] }],
    ['q=a+b%20c', { q: ['a b c'] }],
    ['na%6De=v%3D1', { name: ['v=1'] }],
    ['x=caf%C3%A9', { x: ['café'] }],
    ['=v', { '': ['v'] }],
    ['a=b=c', { a: ['b=c'] }],
  ])('%j', (query, expected) => {
    expect(Object.fromEntries(parseQuery(query) ?? [])).toEqual(expected);
  });

  it.each(['a=%zz', 'a=%E9', '%=1', 'a=%C0%AF'])('refuses %s (malformed escape or UTF-8)', (query) => {
    expect(parseQuery(query)).toBeUndefined();
  });
});

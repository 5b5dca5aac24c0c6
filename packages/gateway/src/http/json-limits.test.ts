import { describe, expect, it } from 'vitest';
import { parseJsonWithLimits } from './json-limits.js';

const limits = { maxDepth: 4, maxMembers: 3 };

describe('parseJsonWithLimits', () => {
  it.each([
    ['null', null],
    [' 42 ', 42],
    ['"text"', 'text'],
    ['{}', {}],
    ['[]', []],
    ['[ ]', []],
    ['{"a":1,"b":2,"c":3}', { a: 1, b: 2, c: 3 }],
    ['[1,2,3]', [1, 2, 3]],
    ['[[[[1,2,3]]]]', [[[[1, 2, 3]]]]],
    ['{"a":{"b":{"c":{}}}}', { a: { b: { c: {} } } }],
    [
      '[[1,2,3],[4,5,6],[7,8,9]]',
      [
        [1, 2, 3],
        [4, 5, 6],
        [7, 8, 9],
      ],
    ],
    // brackets, commas and quotes inside strings are not structure
    ['["[[[[[[", "{,,,,}"]', ['[[[[[[', '{,,,,}']],
    ['{"a,b,c,d":"}}}}]]]]"}', { 'a,b,c,d': '}}}}]]]]' }],
    ['["\\"[[[[[", 1]', ['"[[[[[', 1]],
    ['["\\\\", "[[[[[,,,,"]', ['\\', '[[[[[,,,,']],
    ['{"\\u005b\\u005b":"\\\\\\"]]]]"}', { '[[': '\\"]]]]' }],
    ['\t{\r\n"a" : [ 1 , 2 ]\n}\n', { a: [1, 2] }],
    ['{"a":1,"a":2}', { a: 2 }], // duplicate names: the last wins, as in JSON.parse
  ])('accepts %s', (text, value) => {
    expect(parseJsonWithLimits(text, limits)).toEqual({ ok: true, value });
  });

  it.each([
    // nesting bombs
    ['[[[[[1]]]]]', '[[[[[1]]]]]', 'depth'],
    ['{"a":{"b":{"c":{"d":{}}}}}', '{"a":{"b":{"c":{"d":{}}}}}', 'depth'],
    ['[{"a":[{"b":[]}]}]', '[{"a":[{"b":[]}]}]', 'depth'],
    ['100 000 nested arrays', '['.repeat(100_000), 'depth'],
    ['100 000 nested objects', '{"a":'.repeat(100_000), 'depth'],
    ['[[[[[', '[[[[[', 'depth'],
    // member floods
    ['[1,2,3,4]', '[1,2,3,4]', 'members'],
    ['{"a":1,"b":2,"c":3,"d":4}', '{"a":1,"b":2,"c":3,"d":4}', 'members'],
    ['[[1],[1,2,3,4]]', '[[1],[1,2,3,4]]', 'members'],
    ['an array of 100 001 elements', `[${'0,'.repeat(100_000)}0]`, 'members'],
    ['[,,,,]', '[,,,,]', 'members'],
    // not JSON
    ['', '', 'syntax'],
    ['{', '{', 'syntax'],
    ['[1,]', '[1,]', 'syntax'],
    ['[1}', '[1}', 'syntax'],
    [']]', ']]', 'syntax'],
    ['["unterminated', '["unterminated', 'syntax'],
    ['["\\"]', '["\\"]', 'syntax'],
    ["{'a':1}", "{'a':1}", 'syntax'],
    ['{"a":1} x', '{"a":1} x', 'syntax'],
    ['NaN', 'NaN', 'syntax'],
  ])('refuses %s', (_, text, reason) => {
    expect(parseJsonWithLimits(text, limits)).toEqual({ ok: false, reason });
  });

  it('with maxMembers 0 accepts only empty containers', () => {
    expect(parseJsonWithLimits('[[], {}]', { maxDepth: 2, maxMembers: 0 })).toEqual({
      ok: false,
      reason: 'members',
    });
    expect(parseJsonWithLimits('[]', { maxDepth: 2, maxMembers: 0 })).toEqual({ ok: true, value: [] });
  });

  it('with maxDepth 0 accepts only scalars', () => {
    expect(parseJsonWithLimits('"x"', { maxDepth: 0, maxMembers: 1 })).toEqual({ ok: true, value: 'x' });
    expect(parseJsonWithLimits('{}', { maxDepth: 0, maxMembers: 1 })).toEqual({ ok: false, reason: 'depth' });
  });
});

import { describe, expect, it } from 'vitest';
import { safeReturnTo } from './return-to.js';

describe('safeReturnTo', () => {
  it.each([
    [undefined, '/'],
    ['/', '/'],
    ['/a?b=1#c', '/a?b=1#c'],
    ['/a/./b/../c', '/a/c'],
  ])('%j → %j', (input, expected) => {
    expect(safeReturnTo(input)).toBe(expected);
  });

  it.each([['//x'], ['/\\x'], ['https://x'], [['/a']], [42], ['/\u0000'], ['/ a'], ['/..//x'], ['x']])(
    'refuses %j',
    (input) => {
      expect(safeReturnTo(input)).toBeUndefined();
    },
  );
});

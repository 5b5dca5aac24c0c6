import { describe, expect, it } from 'vitest';
import { adminTokenMatches, bearerTokenOf, MIN_ADMIN_TOKEN_LENGTH } from './admin-token.js';

describe('adminTokenMatches', () => {
  const configured = 'a'.repeat(MIN_ADMIN_TOKEN_LENGTH);
  it.each([
    [configured, true],
    [`${configured}a`, false],
    ['a'.repeat(MIN_ADMIN_TOKEN_LENGTH - 1), false],
    ['', false],
    ['b'.repeat(MIN_ADMIN_TOKEN_LENGTH), false],
  ])('%s → %s', (presented, expected) => {
    expect(adminTokenMatches(presented, configured)).toBe(expected);
  });
});

describe('bearerTokenOf', () => {
  it.each([
    [undefined, undefined],
    ['Bearer abc.DEF-_~+/=', 'abc.DEF-_~+/='],
    ['bearer abc', 'abc'],
    ['BEARER  abc ', 'abc'],
    ['Basic abc', undefined],
    ['Bearer', undefined],
    ['Bearer a b', undefined],
    ['Bearer "abc"', undefined],
  ])('%s → %s', (header, expected) => {
    expect(bearerTokenOf(header)).toBe(expected);
  });
});

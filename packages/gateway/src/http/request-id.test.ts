import { describe, expect, it } from 'vitest';
import { createRequestId, isValidRequestId } from './request-id.js';

describe('createRequestId', () => {
  it('creates distinct ids that pass its own validation', () => {
    const ids = Array.from({ length: 1000 }, () => createRequestId());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(isValidRequestId(id)).toBe(true);
  });
});

describe('isValidRequestId', () => {
  it.each([
    ['abc', true],
    ['0f8fad5b-d9cb-469f-a165-70867728950e', true],
    ['req_1.2:3-x', true],
    ['a'.repeat(128), true],
    ['', false],
    ['a'.repeat(129), false],
    ['a b', false],
    ['a\r\nx-injected: 1', false],
    ['a\u0000', false],
    ['"quoted"', false],
    ['a/b', false],
    ['a,b', false],
    ['a;b', false],
    ['{"json":1}', false],
    ['caf\u00e9', false],
    ['\u{1F600}', false],
  ])('%j → %s', (value, expected) => {
    expect(isValidRequestId(value)).toBe(expected);
  });
});

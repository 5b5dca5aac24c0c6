import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { appendSegment, describeProblem, safePointer } from './describe-problem.js';

const ajv = new Ajv({ strict: false, allErrors: false });

function problemFor(schema: object, value: unknown) {
  const validate = ajv.compile(schema);
  expect(validate(value)).toBe(false);
  return describeProblem('/body', validate.errors);
}

describe('describeProblem', () => {
  it.each([
    [{ type: ['string', 'null'] }, 5, '', 'must be string or null'],
    [{ required: ['a'] }, {}, '/a', 'is required'],
    [{ dependencies: { a: ['b'] } }, { a: 1 }, '/b', 'is required'],
    [{ items: [{}], additionalItems: false }, [1, 2], '', 'is not allowed'],
    [{ properties: { a: false } }, { a: 1 }, '/a', 'is not allowed'],
    [{ const: 'x' }, 'y', '', 'must be the allowed value'],
    [{ minLength: 2 }, 'a', '', 'is too short'],
    [{ maxLength: 1 }, 'ab', '', 'is too long'],
    [{ exclusiveMinimum: 1 }, 1, '', 'is too small'],
    [{ exclusiveMaximum: 1 }, 1, '', 'is too large'],
    [{ multipleOf: 5 }, 7, '', 'is not a multiple of the allowed step'],
    [{ minItems: 1 }, [], '', 'has too few items'],
    [{ uniqueItems: true }, [1, 1], '', 'must not contain duplicate items'],
    [{ minProperties: 1 }, {}, '', 'has too few properties'],
    [{ maxProperties: 0 }, { a: 1 }, '', 'has too many properties'],
    [{ oneOf: [{}, {}] }, 1, '', 'does not match the allowed schemas'],
    [{ not: {} }, 1, '', 'matches a forbidden schema'],
    [{ if: { const: 1 }, then: { const: 2 } }, 1, '', 'must be the allowed value'],
    [{ contains: { const: 1 } }, [2], '', 'is invalid'],
  ])('%j', (schema, value, pointer, message) => {
    expect(problemFor(schema, value)).toEqual({ pointer: `/body${pointer}`, message });
  });

  it('has a fallback without errors', () => {
    expect(describeProblem('/query/a', null)).toEqual({ pointer: '/query/a', message: 'is invalid' });
  });

  it.each([
    ['', ''],
    ['/a/0/b~1c', '/a/0/b~1c'],
    ['/a/<x>/b', '/a'],
    ['/a/', '/a'],
    [`/a/${'x'.repeat(65)}`, '/a'],
  ])('safePointer(%j) → %j', (pointer, expected) => {
    expect(safePointer(pointer)).toBe(expected);
  });

  it.each([
    ['name', '/q/name'],
    ['a/b', '/q/a~1b'],
    ['a b', '/q'],
    ['', '/q'],
  ])('appendSegment(%j) → %j', (segment, expected) => {
    expect(appendSegment('/q', segment)).toBe(expected);
  });
});

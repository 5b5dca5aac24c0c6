import { describe, expect, it } from 'vitest';
import { escapePointer, findExternalRefs, followRef, pointerOf, resolvePointer } from './resolve-ref.js';

const document = {
  components: { schemas: { 'a/b': { x: 1 }, 'c~d': 2, 'sp ace': 3 } },
  list: ['zero', 'one'],
};

describe('resolvePointer', () => {
  it.each([
    ['#', document],
    ['#/list/1', 'one'],
    ['#/components/schemas/a~1b/x', 1],
    ['#/components/schemas/c~0d', 2],
    ['#/components/schemas/sp%20ace', 3],
    ['#/list/01', undefined],
    ['#/list/-', undefined],
    ['#/list/2', undefined],
    ['#/missing', undefined],
    ['#/list/1/length', undefined],
    ['#/components/toString', undefined],
    ['#components', undefined],
    ['#/%zz', undefined],
    ['other.yaml#/a', undefined],
  ])('%s', (ref, expected) => {
    expect(resolvePointer(document, ref)).toEqual(expected);
  });
});

describe('followRef', () => {
  it.each([
    [5, 'must be an object'],
    [{ $ref: 5 }, '$ref must be a string'],
    [{ $ref: '#/nope' }, '$ref "#/nope" does not resolve'],
    [{ $ref: 'x.yaml' }, 'external $ref "x.yaml" refused'],
    [{ $ref: '#/list/0' }, 'must be an object'],
  ])('%j', (value, problem) => {
    const problems: string[] = [];
    expect(followRef(document, value, '#/here', problems)).toBeUndefined();
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`#/here: ${problem}`);
  });

  it('follows a chain', () => {
    const chained = { a: { $ref: '#/b' }, b: { $ref: '#/c' }, c: { ok: true } };
    expect(followRef(chained, { $ref: '#/a' }, '#', [])).toEqual({ ok: true });
  });
});

describe('findExternalRefs', () => {
  it('finds refs anywhere except in data and extensions, once per object', () => {
    const shared = { $ref: 'shared.yaml' };
    const problems = findExternalRefs({
      paths: { '/a': { get: { parameters: [shared, shared] } } },
      components: {
        schemas: { A: { example: { $ref: 'not-a-ref' }, default: { $ref: 'x' }, 'x-ext': { $ref: 'y' } } },
      },
      local: { $ref: '#/paths' },
    });
    expect(problems).toEqual([
      expect.stringContaining('#/paths/~1a/get/parameters/0: external $ref "shared.yaml"'),
    ]);
  });
});

describe('pointers', () => {
  it('escapes segments', () => {
    expect(escapePointer('a/b~c')).toBe('a~1b~0c');
    expect(pointerOf('paths', '/a/{id}', 0)).toBe('#/paths/~1a~1{id}/0');
  });
});

import { describe, expect, it } from 'vitest';
import {
  prepareSchema,
  schemaShape,
  SCHEMA_DOCUMENT_ID,
  type OpenApiVersion,
  type SchemaContext,
} from './prepare-schema.js';

const components = {
  schemas: {
    Id: { type: 'string', readOnly: true },
    Wrapped: { allOf: [{ $ref: '#/components/schemas/Id' }] },
    List: { type: 'array' },
    Alias: { $ref: '#/components/schemas/List' },
    Mixed: { allOf: [{ description: 'x' }, { type: 'object' }] },
    Loop: { $ref: '#/components/schemas/Loop' },
  },
};

function context(version: OpenApiVersion): SchemaContext {
  return { document: { components }, version, problems: [] };
}

function prepared(schema: unknown, version: OpenApiVersion = '3.0'): unknown {
  const ctx = context(version);
  const out = prepareSchema(schema, '#/s', ctx);
  expect(ctx.problems).toEqual([]);
  return out;
}

describe('prepareSchema (OpenAPI 3.0 → draft-07)', () => {
  it.each([
    [
      { type: 'integer', minimum: 1, exclusiveMinimum: true },
      { type: 'integer', exclusiveMinimum: 1 },
    ],
    [
      { type: 'integer', maximum: 9, exclusiveMaximum: true },
      { type: 'integer', exclusiveMaximum: 9 },
    ],
    [{ minimum: 1, exclusiveMinimum: false }, { minimum: 1 }],
    [{ exclusiveMaximum: true }, {}],
    [{ type: 'string', nullable: true }, { type: ['string', 'null'] }],
    [{ type: 'string', nullable: false }, { type: 'string' }],
    [
      { type: 'string', enum: ['a'], nullable: true },
      { type: ['string', 'null'], enum: ['a', null] },
    ],
    [{ enum: ['a', null], nullable: true }, { enum: ['a', null] }],
    [{ type: ['string'], nullable: true }, { type: ['string'] }],
    [
      { allOf: [{ $ref: '#/components/schemas/Id' }], nullable: true, readOnly: true },
      {
        readOnly: true,
        anyOf: [{ type: 'null' }, { allOf: [{ $ref: `${SCHEMA_DOCUMENT_ID}#/definitions/Id` }] }],
      },
    ],
    [{ nullable: true }, { anyOf: [{ type: 'null' }, {}] }],
    [{ type: 'object', 'x-vendor': { $ref: 'x.yaml' } }, { type: 'object' }],
    [
      { dependencies: { a: ['b'], c: { $ref: '#/components/schemas/Id' } } },
      { dependencies: { a: ['b'], c: { $ref: `${SCHEMA_DOCUMENT_ID}#/definitions/Id` } } },
    ],
    [
      { items: [{ type: 'string' }], additionalItems: false },
      { items: [{ type: 'string' }], additionalItems: false },
    ],
  ])('%j', (schema, expected) => {
    expect(prepared(schema)).toEqual(expected);
  });

  it.each([
    [
      { type: 'object', required: ['id', 'name'], properties: { id: { readOnly: true }, name: {} } },
      ['name'],
    ],
    [{ type: 'object', required: ['id'], properties: { id: { $ref: '#/components/schemas/Id' } } }, []],
    [{ type: 'object', required: ['id'], properties: { id: { $ref: '#/components/schemas/Wrapped' } } }, []],
    [{ type: 'object', required: ['id'], properties: { id: { $ref: '#/components/schemas/Loop' } } }, ['id']],
    [{ type: 'object', required: ['other'], properties: { id: { readOnly: true } } }, ['other']],
  ])('read-only properties are not required in requests: %j', (schema, required) => {
    expect(prepared(schema)).toMatchObject({ required });
  });
});

describe('prepareSchema (OpenAPI 3.1)', () => {
  it('keeps 2020-12 keywords and rewrites refs into $defs', () => {
    expect(
      prepared(
        {
          $schema: 'https://spec.openapis.org/oas/3.1/dialect/base',
          type: ['string', 'null'],
          exclusiveMinimum: 0,
          prefixItems: [{ $ref: '#/components/schemas/Id' }],
          nullable: true,
        },
        '3.1',
      ),
    ).toEqual({
      type: ['string', 'null'],
      exclusiveMinimum: 0,
      prefixItems: [{ $ref: `${SCHEMA_DOCUMENT_ID}#/$defs/Id` }],
      nullable: true,
    });
  });

  it.each([
    [{ $dynamicRef: '#meta' }, '#/s/$dynamicRef: $dynamicRef is not supported'],
    [{ $recursiveRef: '#' }, '#/s/$recursiveRef: $recursiveRef is not supported'],
    [{ $ref: '#anchor' }, 'must point into #/components/schemas'],
    [{ properties: { a: 5 } }, '#/s/properties/a: must be a schema object'],
  ])('refuses %j', (schema, problem) => {
    const ctx = context('3.1');
    prepareSchema(schema, '#/s', ctx);
    expect(ctx.problems).toEqual([expect.stringContaining(problem)]);
  });
});

describe('schemaShape', () => {
  it.each([
    [{ type: 'integer' }, 'scalar'],
    [{ type: ['array', 'null'] }, 'array'],
    [{ type: 'object' }, 'object'],
    [{ $ref: '#/components/schemas/Alias' }, 'array'],
    [{ $ref: '#/components/schemas/Mixed' }, 'object'],
    [{ $ref: '#/components/schemas/Loop' }, 'scalar'],
    [{ allOf: [{}, {}] }, 'scalar'],
    [true, 'scalar'],
  ])('%j → %s', (schema, shape) => {
    expect(schemaShape(schema, context('3.1'))).toBe(shape);
  });
});

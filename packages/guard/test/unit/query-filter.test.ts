import { describe, expect, it } from 'vitest';
import { matchesFilter, toSqlWhere, type Condition, type QueryFilter } from '../../src/index.js';

const where = (condition: Condition): QueryFilter => ({ kind: 'where', condition });
const COLUMNS = { ownerId: 'owner_id', tenantId: 'o.tenant_id', status: 'status' };

describe('toSqlWhere', () => {
  const cases: Array<{ name: string; filter: QueryFilter; sql: string; params: string[] }> = [
    { name: 'all rows', filter: { kind: 'all' }, sql: '1 = 1', params: [] },
    { name: 'no rows', filter: { kind: 'none' }, sql: '1 = 0', params: [] },
    {
      name: 'one field',
      filter: where({ field: 'ownerId', equals: 'alice' }),
      sql: '"owner_id" = ?',
      params: ['alice'],
    },
    {
      name: 'a qualified column',
      filter: where({ field: 'tenantId', equals: 't1' }),
      sql: '"o"."tenant_id" = ?',
      params: ['t1'],
    },
    {
      name: 'or',
      filter: where({
        or: [
          { field: 'ownerId', equals: 'alice' },
          { field: 'tenantId', equals: 't1' },
        ],
      }),
      sql: '("owner_id" = ? OR "o"."tenant_id" = ?)',
      params: ['alice', 't1'],
    },
    {
      name: 'nested and inside or, parameters in order',
      filter: where({
        or: [
          { field: 'ownerId', equals: 'alice' },
          {
            and: [
              { field: 'tenantId', equals: 't1' },
              { field: 'status', equals: 'open' },
            ],
          },
        ],
      }),
      sql: '("owner_id" = ? OR ("o"."tenant_id" = ? AND "status" = ?))',
      params: ['alice', 't1', 'open'],
    },
    {
      // Values are parameters, never SQL text (CWE-89).
      name: 'a hostile value stays a parameter',
      filter: where({ field: 'ownerId', equals: "x' OR '1'='1" }),
      sql: '"owner_id" = ?',
      params: ["x' OR '1'='1"],
    },
  ];

  it.each(cases)('$name', ({ filter, sql, params }) => {
    expect(toSqlWhere(filter, COLUMNS)).toEqual({ sql, params });
  });

  it('refuses a field without a column', () => {
    expect(() => toSqlWhere(where({ field: 'secretField', equals: 'x' }), COLUMNS)).toThrow(
      new TypeError('no column for field secretField'),
    );
    expect(() =>
      toSqlWhere(
        where({
          and: [
            { field: 'ownerId', equals: 'a' },
            { field: 'unmapped', equals: 'b' },
          ],
        }),
        COLUMNS,
      ),
    ).toThrow(TypeError);
  });

  it('never takes inherited members of the column map for columns', () => {
    for (const field of ['constructor', 'toString', '__proto__']) {
      expect(() => toSqlWhere(where({ field, equals: 'x' }), COLUMNS)).toThrow(TypeError);
    }
  });

  const badColumns = [
    'owner id',
    'owner"; DROP TABLE orders; --',
    'owner_id = owner_id OR 1',
    '1owner',
    'a.b.c',
    '.owner',
    'owner.',
    '',
    'ówner',
    '"owner_id"',
    'owner-id',
  ];
  it.each(badColumns)('refuses the column name %j', (column) => {
    expect(() => toSqlWhere(where({ field: 'ownerId', equals: 'x' }), { ownerId: column })).toThrow(
      TypeError,
    );
  });
});

describe('matchesFilter', () => {
  const record = { ownerId: 'alice', tenantId: 't1', status: 'open', count: 1 };
  const cases: Array<{ name: string; filter: QueryFilter; expected: boolean }> = [
    { name: 'all', filter: { kind: 'all' }, expected: true },
    { name: 'none', filter: { kind: 'none' }, expected: false },
    { name: 'equal field', filter: where({ field: 'ownerId', equals: 'alice' }), expected: true },
    { name: 'other value', filter: where({ field: 'ownerId', equals: 'bob' }), expected: false },
    { name: 'missing field', filter: where({ field: 'missing', equals: 'undefined' }), expected: false },
    { name: 'no type coercion', filter: where({ field: 'count', equals: '1' }), expected: false },
    {
      name: 'and: both',
      filter: where({
        and: [
          { field: 'ownerId', equals: 'alice' },
          { field: 'status', equals: 'open' },
        ],
      }),
      expected: true,
    },
    {
      name: 'and: one',
      filter: where({
        and: [
          { field: 'ownerId', equals: 'alice' },
          { field: 'status', equals: 'closed' },
        ],
      }),
      expected: false,
    },
    {
      name: 'or: one',
      filter: where({
        or: [
          { field: 'ownerId', equals: 'bob' },
          { field: 'tenantId', equals: 't1' },
        ],
      }),
      expected: true,
    },
    {
      name: 'or: none',
      filter: where({
        or: [
          { field: 'ownerId', equals: 'bob' },
          { field: 'tenantId', equals: 't2' },
        ],
      }),
      expected: false,
    },
  ];
  it.each(cases)('$name -> $expected', ({ filter, expected }) => {
    expect(matchesFilter(filter, record)).toBe(expected);
  });
});

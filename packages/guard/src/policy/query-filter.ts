/** A condition on stored fields; what a list endpoint must apply so it returns only allowed rows. */
export type Condition =
  | { readonly field: string; readonly equals: string }
  | { readonly and: readonly Condition[] }
  | { readonly or: readonly Condition[] };

export type QueryFilter =
  | { readonly kind: 'all' }
  | { readonly kind: 'none' }
  | { readonly kind: 'where'; readonly condition: Condition };

export interface SqlWhere {
  readonly sql: string;
  readonly params: readonly string[];
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?$/;

function quoteIdentifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw new TypeError(`not a plain SQL identifier: ${name}`);
  return name
    .split('.')
    .map((part) => `"${part}"`)
    .join('.');
}

/**
 * Renders a filter as a parameterised SQL `WHERE` fragment (`?` placeholders). Column names come
 * only from `columns` (field → column), never from data; a field without a column is an error.
 */
export function toSqlWhere(filter: QueryFilter, columns: Readonly<Record<string, string>>): SqlWhere {
  if (filter.kind === 'all') return { sql: '1 = 1', params: [] };
  if (filter.kind === 'none') return { sql: '1 = 0', params: [] };
  const params: string[] = [];
  const render = (condition: Condition): string => {
    if ('field' in condition) {
      const column = columns[condition.field];
      if (column === undefined) throw new TypeError(`no column for field ${condition.field}`);
      params.push(condition.equals);
      return `${quoteIdentifier(column)} = ?`;
    }
    const parts = 'and' in condition ? condition.and : condition.or;
    return `(${parts.map(render).join('and' in condition ? ' AND ' : ' OR ')})`;
  };
  return { sql: render(filter.condition), params };
}

/** Applies a filter to in-memory records. */
export function matchesFilter(filter: QueryFilter, record: Readonly<Record<string, unknown>>): boolean {
  if (filter.kind !== 'where') return filter.kind === 'all';
  const test = (condition: Condition): boolean => {
    if ('field' in condition) return record[condition.field] === condition.equals;
    return 'and' in condition ? condition.and.every(test) : condition.or.some(test);
  };
  return test(filter.condition);
}

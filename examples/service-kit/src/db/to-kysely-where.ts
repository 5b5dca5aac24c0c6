import type { SqlWhere } from '@gatehouse/guard';
import { sql, type RawBuilder, type SqlBool } from 'kysely';

/**
 * guard's `toSqlWhere` renders a policy filter with `?` placeholders; this binds its parameters
 * through kysely. The text holds only quoted identifiers and operators, never data, so every `?`
 * is a placeholder.
 */
export function toKyselyWhere(where: SqlWhere): RawBuilder<SqlBool> {
  const [first = '', ...rest] = where.sql.split('?');
  let expression = sql<SqlBool>`${sql.raw(first)}`;
  rest.forEach((text, index) => {
    expression = sql<SqlBool>`${expression}${where.params[index]}${sql.raw(text)}`;
  });
  return sql<SqlBool>`(${expression})`;
}

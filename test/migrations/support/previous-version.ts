import { sql, type Kysely } from 'kysely';
import type { Catalog, CatalogColumn } from './catalog.js';

/** A row written the way the previous version writes: only the columns its schema had. */
export interface PreviousRow {
  readonly table: string;
  readonly values: Readonly<Record<string, unknown>>;
}

let counter = 0;

/** A value of the column's type, distinct per call (unique indexes never refuse it). */
function valueFor(column: CatalogColumn, tag: string): unknown {
  counter += 1;
  if (/^(bool)/.test(column.type)) return column.type === 'bool' ? true : 1;
  if (/^(int|bigint|smallint|numeric|real|double|float)/.test(column.type)) return 1_000_000 + counter;
  return `${tag}-${column.table}-${column.name}-${counter}`;
}

/**
 * Inserts one row into every table of `catalog` (the previous schema) using only its columns, as an
 * instance of the previous version would. Tables with foreign keys are left out (their rows need
 * parents); they are named in `skipped`.
 */
export async function writeAsPrevious(
  db: Kysely<unknown>,
  catalog: Catalog,
  tag: string,
): Promise<{ rows: PreviousRow[]; skipped: string[] }> {
  const rows: PreviousRow[] = [];
  const skipped: string[] = [];
  for (const table of catalog.tables) {
    if (catalog.constraints.some((c) => c.table === table && c.kind === 'foreign key')) {
      skipped.push(table);
      continue;
    }
    const columns = catalog.columns.filter((c) => c.table === table && !c.generated);
    const values = Object.fromEntries(columns.map((c) => [c.name, valueFor(c, tag)]));
    await sql`insert into ${sql.table(table)} (${sql.join(columns.map((c) => sql.ref(c.name)))})
        values (${sql.join(columns.map((c) => values[c.name]))})`.execute(db);
    rows.push({ table, values });
  }
  return { rows, skipped };
}

/**
 * Reads each row back by the previous schema's columns, as the previous version would; throws
 * when a row is missing or a value changed.
 */
export async function readAsPrevious(db: Kysely<unknown>, rows: readonly PreviousRow[]): Promise<void> {
  for (const { table, values } of rows) {
    const names = Object.keys(values);
    const where = sql.join(
      names.map((name) => sql`${sql.ref(name)} = ${values[name]}`),
      sql` and `,
    );
    const found = await sql<Record<string, unknown>>`select ${sql.join(names.map((n) => sql.ref(n)))}
        from ${sql.table(table)} where ${where}`.execute(db);
    if (found.rows.length !== 1 || JSON.stringify(found.rows[0]) !== JSON.stringify(values)) {
      throw new Error(`${table}: the previous version's row reads back as ${JSON.stringify(found.rows)}`);
    }
  }
}

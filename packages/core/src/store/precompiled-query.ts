import { randomBytes } from 'node:crypto';
import type { Compilable, CompiledQuery, Kysely } from 'kysely';

/**
 * What a template is kept for: the database's dialect adapter when no plugin transforms its
 * queries, so that a transaction (whose executor shares its database's adapter and compiler)
 * runs its database's template instead of compiling one per transaction; otherwise the instance.
 */
function templateKey(db: Kysely<unknown>): object {
  const executor = db.getExecutor();
  return executor.plugins.length === 0 ? executor.adapter : db;
}

/** Runs a precompiled query on `db` (or one of its transactions) with these values; resolves its rows. */
export type PrecompiledQuery<DB, V, O> = (db: Kysely<DB>, values: V) => Promise<O[]>;

interface Template {
  readonly compiled: CompiledQuery;
  /** For each value name, the positions of its parameter in `compiled.parameters`. */
  readonly slots: ReadonlyArray<readonly [name: string, positions: readonly number[]]>;
}

/**
 * A query built and compiled once per database instead of on every call: kysely rebuilds and
 * recompiles a query each time, which on a hot path costs more than running a point query on
 * SQLite. `build` is called once with a placeholder for each named value; every call then runs
 * the same SQL with the real values bound in their places (always as parameters, never inlined).
 *
 * The SQL must not depend on the values (no branching on them, no `in` lists, no `sql.lit`):
 * a placeholder that is not bound as exactly one plain parameter is refused when compiling.
 */
export function precompiledQuery<DB, V extends Readonly<Record<string, unknown>>, O>(
  names: readonly (keyof V & string)[],
  build: (db: Kysely<DB>, values: V) => Compilable<O>,
): PrecompiledQuery<DB, V, O> {
  const templates = new WeakMap<object, Template>();

  function compile(db: Kysely<DB>): Template {
    const marker = randomBytes(8).toString('hex');
    const placeholders = Object.fromEntries(names.map((name) => [name, `\u0000${marker}:${name}\u0000`]));
    const compiled = build(db, placeholders as unknown as V).compile();
    if (compiled.sql.includes(marker)) throw new Error('precompiledQuery: a value was inlined in the SQL');
    const slots = names.map((name) => {
      const positions = compiled.parameters.flatMap((parameter, index) =>
        parameter === placeholders[name] ? [index] : [],
      );
      if (positions.length === 0) throw new Error(`precompiledQuery: ${name} is not a parameter`);
      return [name, positions] as const;
    });
    const bound = new Set(slots.flatMap(([, positions]) => positions));
    if (compiled.parameters.some((p, i) => !bound.has(i) && typeof p === 'string' && p.includes(marker)))
      throw new Error('precompiledQuery: a value is nested in a parameter');
    return { compiled, slots };
  }

  return async (db, values) => {
    const key = templateKey(db as Kysely<unknown>);
    let template = templates.get(key);
    if (template === undefined) {
      template = compile(db);
      templates.set(key, template);
    }
    const parameters = [...template.compiled.parameters];
    for (const [name, positions] of template.slots) for (const i of positions) parameters[i] = values[name];
    const result = await db.executeQuery<O>({ ...template.compiled, parameters });
    return result.rows;
  };
}

/** Inserts rows (each with every column) in one statement on `db`. */
export type PrecompiledInsert<DB, Row> = (db: Kysely<DB>, rows: readonly Row[]) => Promise<void>;

interface InsertTemplate<Row> {
  readonly compiled: CompiledQuery;
  /** For each parameter of `compiled`: the row and the column whose value it takes. */
  readonly rowOf: readonly number[];
  readonly columnOf: readonly (keyof Row & string)[];
}

/**
 * A multi-row INSERT into `table`, compiled once per database and row count (a group commit writes
 * batches of a few sizes over and over); each call binds the rows' values as its parameters.
 * kysely would otherwise build a node per value and compile the statement for every batch.
 */
export function precompiledInsert<DB, Row extends object>(
  table: keyof DB & string,
  columns: readonly (keyof Row & string)[],
): PrecompiledInsert<DB, Row> {
  const templates = new WeakMap<object, Map<number, InsertTemplate<Row>>>();

  function compile(db: Kysely<DB>, count: number): InsertTemplate<Row> {
    const marker = randomBytes(8).toString('hex');
    const placeholder = (row: number, column: number): string => `\u0000${marker}:${row}:${column}\u0000`;
    const rows = Array.from({ length: count }, (_, row) =>
      Object.fromEntries(columns.map((column, index) => [column, placeholder(row, index)])),
    );
    // Typed loosely on purpose: the placeholders stand for values of any column type.
    const untyped = db as unknown as Kysely<Record<string, Record<string, string>>>;
    const compiled = untyped.insertInto(table).values(rows).compile();
    // Defensive, like the checks below: kysely binds every value given to values() as a parameter.
    /* v8 ignore next */
    if (compiled.sql.includes(marker)) throw new Error('precompiledInsert: a value was inlined in the SQL');
    const pattern = new RegExp(`^\u0000${marker}:(\\d+):(\\d+)\u0000$`);
    const rowOf: number[] = [];
    const columnOf: (keyof Row & string)[] = [];
    for (const parameter of compiled.parameters) {
      const match = typeof parameter === 'string' ? pattern.exec(parameter) : null;
      const column = columns[Number(match?.[2])];
      // Defensive: kysely binds exactly the row values given to values(); nothing else can appear.
      /* v8 ignore start */
      if (match === null || column === undefined)
        throw new Error('precompiledInsert: a parameter is not a value of a row');
      /* v8 ignore stop */
      rowOf.push(Number(match[1]));
      columnOf.push(column);
    }
    return { compiled, rowOf, columnOf };
  }

  return async (db, rows) => {
    if (rows.length === 0) return;
    const key = templateKey(db as Kysely<unknown>);
    let byCount = templates.get(key);
    if (byCount === undefined) {
      byCount = new Map();
      templates.set(key, byCount);
    }
    let template = byCount.get(rows.length);
    if (template === undefined) {
      template = compile(db, rows.length);
      byCount.set(rows.length, template);
    }
    const { compiled, rowOf, columnOf } = template;
    const parameters = rowOf.map((row, i) => (rows[row] as Row)[columnOf[i] as keyof Row]);
    await db.executeQuery({ ...compiled, parameters });
  };
}

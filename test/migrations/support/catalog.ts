import { SqliteAdapter, sql, type Kysely } from 'kysely';

/** A column as the catalog describes it. */
export interface CatalogColumn {
  readonly table: string;
  readonly name: string;
  readonly type: string;
  readonly nullable: boolean;
  readonly default: string | null;
  /** Filled in by the database (identity, generated): a writer never supplies it. */
  readonly generated: boolean;
}

export interface CatalogIndex {
  readonly name: string;
  readonly table: string;
  readonly unique: boolean;
  readonly columns: readonly string[];
  /** The full definition (columns, expressions, partial `where`). */
  readonly definition: string;
}

/** Check, foreign-key and exclusion constraints (unique ones are indexes). */
export interface CatalogConstraint {
  readonly name: string;
  readonly table: string;
  readonly kind: string;
  readonly columns: readonly string[];
}

/** The schema of the tables the migrations manage (history tables left out). */
export interface Catalog {
  readonly tables: readonly string[];
  readonly columns: readonly CatalogColumn[];
  readonly indexes: readonly CatalogIndex[];
  readonly constraints: readonly CatalogConstraint[];
}

/** Tables that are bookkeeping, not schema: kysely's histories and locks, SQLite's own. */
const isBookkeeping = (table: string): boolean =>
  /_migrations(_lock|_contract)?$/.test(table) || table.startsWith('sqlite_');

export async function readCatalog(db: Kysely<unknown>): Promise<Catalog> {
  const catalog =
    db.getExecutor().adapter instanceof SqliteAdapter ? await readSqlite(db) : await readPostgres(db);
  const key = (item: { table: string; name: string }): string => `${item.table}.${item.name}`;
  const byName = <T extends { table: string; name: string }>(items: T[]): T[] =>
    items.filter((item) => !isBookkeeping(item.table)).sort((a, b) => key(a).localeCompare(key(b)));
  return {
    tables: catalog.tables.filter((table) => !isBookkeeping(table)).sort(),
    columns: byName(catalog.columns),
    indexes: byName(catalog.indexes),
    constraints: byName(catalog.constraints),
  };
}

interface MutableCatalog {
  tables: string[];
  columns: CatalogColumn[];
  indexes: CatalogIndex[];
  constraints: CatalogConstraint[];
}

async function readPostgres(db: Kysely<unknown>): Promise<MutableCatalog> {
  const tables = await sql<{ name: string }>`select table_name as name from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(db);
  const columns = await sql<{
    table: string;
    name: string;
    udt: string;
    length: number | null;
    nullable: string;
    default: string | null;
    identity: string;
    generated: string;
  }>`select table_name as table, column_name as name, udt_name as udt, character_maximum_length as length,
        is_nullable as nullable, column_default as default, is_identity as identity,
        is_generated as generated
      from information_schema.columns where table_schema = current_schema()`.execute(db);
  const indexes = await sql<{
    name: string;
    table: string;
    unique: boolean;
    columns: string[];
    definition: string;
  }>`select i.relname as name, t.relname as table, x.indisunique as unique,
        array(select a.attname from pg_attribute a
              where a.attrelid = t.oid and a.attnum = any(x.indkey) order by a.attname)::text[] as columns,
        pg_get_indexdef(x.indexrelid) as definition
      from pg_index x
      join pg_class i on i.oid = x.indexrelid
      join pg_class t on t.oid = x.indrelid
      join pg_namespace n on n.oid = t.relnamespace
      where n.nspname = current_schema()`.execute(db);
  const constraints = await sql<{
    name: string;
    table: string;
    kind: string;
    columns: string[];
  }>`select c.conname as name, t.relname as table,
        case c.contype when 'c' then 'check' when 'f' then 'foreign key' else 'exclusion' end as kind,
        array(select a.attname from pg_attribute a
              where a.attrelid = c.conrelid and a.attnum = any(c.conkey) order by a.attname)::text[] as columns
      from pg_constraint c
      join pg_class t on t.oid = c.conrelid
      join pg_namespace n on n.oid = c.connamespace
      where n.nspname = current_schema() and c.contype in ('c', 'f', 'x')`.execute(db);
  return {
    tables: tables.rows.map((row) => row.name),
    columns: columns.rows.map((row) => ({
      table: row.table,
      name: row.name,
      type: row.length === null ? row.udt : `${row.udt}(${row.length})`,
      nullable: row.nullable === 'YES',
      default: row.default,
      generated: row.identity === 'YES' || row.generated === 'ALWAYS',
    })),
    indexes: indexes.rows,
    constraints: constraints.rows,
  };
}

async function readSqlite(db: Kysely<unknown>): Promise<MutableCatalog> {
  const tables = (
    await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db)
  ).rows.map((row) => row.name);
  const catalog: MutableCatalog = { tables, columns: [], indexes: [], constraints: [] };
  for (const table of tables) {
    const columns = await sql<{
      name: string;
      type: string;
      notnull: number;
      dflt_value: string | null;
      pk: number;
      hidden: number;
    }>`select name, type, "notnull", dflt_value, pk, hidden from pragma_table_xinfo(${table})`.execute(db);
    const integerKey = columns.rows.filter((c) => c.pk > 0).length === 1;
    for (const column of columns.rows) {
      catalog.columns.push({
        table,
        name: column.name,
        type: column.type.toLowerCase(),
        nullable: column.notnull === 0 && column.pk === 0,
        default: column.dflt_value,
        // A lone INTEGER PRIMARY KEY is the rowid: SQLite assigns it when a writer leaves it out.
        generated:
          column.hidden !== 0 || (integerKey && column.pk > 0 && column.type.toLowerCase() === 'integer'),
      });
    }
    const indexes = await sql<{ name: string; unique: number }>`select name, "unique"
        from pragma_index_list(${table})`.execute(db);
    for (const index of indexes.rows) {
      const info = await sql<{ name: string | null }>`select name from pragma_index_info(${index.name})
          order by name`.execute(db);
      const definition = await sql<{ sql: string | null }>`select sql from sqlite_master
          where type = 'index' and name = ${index.name}`.execute(db);
      catalog.indexes.push({
        name: index.name,
        table,
        unique: index.unique === 1,
        columns: info.rows.map((row) => row.name ?? '<expression>'),
        definition: definition.rows[0]?.sql ?? `(constraint) ${info.rows.map((row) => row.name).join(', ')}`,
      });
    }
    const foreignKeys = await sql<{ id: number; from: string }>`select id, "from"
        from pragma_foreign_key_list(${table})`.execute(db);
    for (const fk of foreignKeys.rows) {
      catalog.constraints.push({
        name: `${table}_fk${fk.id}`,
        table,
        kind: 'foreign key',
        columns: [fk.from],
      });
    }
  }
  return catalog;
}

/**
 * What an `expand` migration must not do, found by comparing the catalog before and after it: each
 * is something instances of the previous version would trip over (docs/upgrades.md).
 */
export function expandViolations(before: Catalog, after: Catalog): string[] {
  const violations: string[] = [];
  const existed = new Set(before.tables);
  const column = (catalog: Catalog, table: string, name: string): CatalogColumn | undefined =>
    catalog.columns.find((c) => c.table === table && c.name === name);
  for (const table of before.tables) {
    if (!after.tables.includes(table)) violations.push(`table ${table} removed (or renamed)`);
  }
  for (const old of before.columns) {
    if (!after.tables.includes(old.table)) continue;
    const now = column(after, old.table, old.name);
    const at = `column ${old.table}.${old.name}`;
    if (now === undefined) {
      violations.push(`${at} removed (or renamed)`);
      continue;
    }
    if (now.type !== old.type) violations.push(`${at} changed type from ${old.type} to ${now.type}`);
    if (old.nullable && !now.nullable) violations.push(`${at} became NOT NULL`);
    if (!now.nullable && !now.generated && old.default !== null && now.default === null) {
      violations.push(`${at} (NOT NULL) lost its default`);
    }
  }
  for (const now of after.columns) {
    if (!existed.has(now.table) || column(before, now.table, now.name) !== undefined) continue;
    if (!now.nullable && now.default === null && !now.generated) {
      violations.push(
        `column ${now.table}.${now.name} added NOT NULL without a default to an existing table`,
      );
    }
  }
  // A new unique index or constraint on columns the previous version writes may refuse its writes;
  // on a new table or on new columns (which it leaves NULL, never equal to another NULL) it cannot.
  const onOldColumns = (table: string, columns: readonly string[]): boolean =>
    existed.has(table) &&
    (columns.length === 0 || columns.some((name) => column(before, table, name) !== undefined));
  for (const old of before.indexes) {
    if (!old.unique || !after.tables.includes(old.table)) continue;
    const now = after.indexes.find((index) => index.name === old.name && index.table === old.table);
    // The previous version's upserts (ON CONFLICT) and lookups rely on its unique indexes.
    if (now?.definition !== old.definition) violations.push(`unique index ${old.name} removed or changed`);
  }
  for (const now of after.indexes) {
    const old = before.indexes.find((index) => index.name === now.name && index.table === now.table);
    if (!now.unique || old?.definition === now.definition) continue;
    if (onOldColumns(now.table, now.columns)) {
      violations.push(`unique index ${now.name} covers existing columns of ${now.table}`);
    }
  }
  for (const now of after.constraints) {
    if (before.constraints.some((c) => c.name === now.name && c.table === now.table)) continue;
    if (onOldColumns(now.table, now.columns)) {
      violations.push(`${now.kind} constraint ${now.name} added on existing columns of ${now.table}`);
    }
  }
  return violations;
}

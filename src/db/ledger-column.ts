/**
 * One ledger column described once: its SQL name, the property a row carries it in, how its
 * values travel (kind) and whether it may be NULL. A table is an ordered record of such columns
 * (ledger-tables.ts); from it come the SQL column lists, the row tuples the stores insert, the
 * PostgreSQL array types of a multi-row insert and the codec that reads a row back, so no store
 * keeps a list of its own that could drift. ledger-tables.test.ts holds every list against the
 * drizzle schemas of both dialects.
 */
import { assert } from '../assert.ts';

/**
 * - text, integer (a safe JS number), money (bigint micro-units), epochMs (milliseconds, bigint
 *   in PostgreSQL), boolean, json (a JSON value; jsonb in PostgreSQL), rowId (a row id the
 *   store numbers, or one naming such a row: integer in SQLite, bigint in PostgreSQL).
 */
export type ColumnKind = 'text' | 'integer' | 'money' | 'epochMs' | 'boolean' | 'json' | 'rowId';

export type LedgerColumn<Value = unknown> = {
  name: string;
  kind: ColumnKind;
  nullable: boolean;
  /** The values an enumerated text column may hold. */
  values: readonly string[] | undefined;
  /** Reads a stored value back, as either driver returns it (NULL already handled). */
  decode: (stored: unknown) => Value;
};

export type LedgerTable = Readonly<Record<string, LedgerColumn>>;

/** The row a table's columns make, by property. */
export type RowOf<Table extends LedgerTable> = {
  -readonly [Property in keyof Table]: Table[Property] extends LedgerColumn<infer Value>
    ? Value
    : never;
};

function column<Value>(
  kind: ColumnKind,
  decode: (stored: unknown) => Value,
  values?: readonly string[],
) {
  return (name: string): LedgerColumn<Value> => ({
    name,
    kind,
    nullable: false,
    values,
    decode,
  });
}

function decodeText(stored: unknown): string {
  assert(typeof stored === 'string', `a text column holds ${String(stored)}`);
  return stored;
}

/** A count, token number or epoch milliseconds: a safe integer whatever the driver gave. */
function decodeInteger(stored: unknown): number {
  const parsed = typeof stored === 'number' ? stored : Number(stored);
  assert(Number.isSafeInteger(parsed), `an integer column holds ${String(stored)}`);
  return parsed;
}

/** Money is exact: bigint from SQLite, text from PostgreSQL's int8, never through a float. */
function decodeMoney(stored: unknown): bigint {
  assert(
    typeof stored === 'string' || typeof stored === 'number' || typeof stored === 'bigint',
    `a money column holds ${String(stored)}`,
  );
  return BigInt(stored);
}

/** SQLite stores 0/1, PostgreSQL a boolean. */
function decodeBoolean(stored: unknown): boolean {
  return stored === true || stored === 1 || stored === 1n;
}

/** SQLite stores JSON text, PostgreSQL's driver parses jsonb. */
function decodeJson(stored: unknown): unknown {
  return typeof stored === 'string' ? JSON.parse(stored) : stored;
}

export const text = column('text', decodeText);
export const integer = column('integer', decodeInteger);
export const money = column('money', decodeMoney);
export const epochMs = column('epochMs', decodeInteger);
export const boolean = column('boolean', decodeBoolean);
export const rowId = column('rowId', decodeInteger);

/** A JSON column whose value the store wrote itself, typed as `Value`. */
export function json<Value>(name: string): LedgerColumn<Value> {
  return column('json', (stored) => decodeJson(stored) as Value)(name);
}

/** A text column holding one of `values`. */
export function oneOf<const Values extends readonly string[]>(
  name: string,
  values: Values,
): LedgerColumn<Values[number]> {
  const decode = (stored: unknown): Values[number] => {
    const value = decodeText(stored);
    assert(values.includes(value), `${name} holds ${value}, not one of ${values.join(', ')}`);
    return value;
  };
  return column('text', decode, values)(name);
}

/** The same column, NULL allowed. */
export function nullable<Value>(base: LedgerColumn<Value>): LedgerColumn<Value | null> {
  return {
    ...base,
    nullable: true,
    decode: (stored) => (stored === null || stored === undefined ? null : base.decode(stored)),
  };
}

/** The properties of a table, in column order. */
export function propertiesOf<Table extends LedgerTable>(table: Table): (keyof Table & string)[] {
  return Object.keys(table);
}

function described<Table extends LedgerTable>(table: Table, property: keyof Table): LedgerColumn {
  const found = table[property];
  assert(found !== undefined, `column ${String(property)} is listed`);
  return found;
}

/** The SQL names of a table's columns, in order. */
export function columnNames(table: LedgerTable): string[] {
  return Object.values(table).map((column) => column.name);
}

/** The SQL names of `properties`, in order, comma-separated, each `alias.` prefixed if given. */
export function columnList<Table extends LedgerTable>(
  table: Table,
  properties: readonly (keyof Table & string)[],
  alias?: string,
): string {
  const prefix = alias === undefined ? '' : `${alias}.`;
  return properties.map((property) => `${prefix}${described(table, property).name}`).join(', ');
}

/** A row read back by column name, decoded by property. */
export function decodeRow<Table extends LedgerTable>(
  table: Table,
  stored: Readonly<Record<string, unknown>>,
): RowOf<Table> {
  const row: Record<string, unknown> = {};
  for (const property of propertiesOf(table)) {
    const column = described(table, property);
    row[property] = column.decode(stored[column.name]);
  }
  return row as RowOf<Table>;
}

/**
 * The values of `properties` of a row, in order, as the drivers bind them: JSON as text. (A
 * boolean binds as is, which only PostgreSQL takes: SQLite wants 0 or 1.)
 */
export function rowValues<Table extends LedgerTable, Property extends keyof Table & string>(
  table: Table,
  properties: readonly Property[],
  row: Pick<RowOf<Table>, Property>,
): unknown[] {
  return properties.map((property) => {
    const value: unknown = row[property];
    if (value === null || value === undefined) {
      return null;
    }
    return described(table, property).kind === 'json' ? JSON.stringify(value) : value;
  });
}

/** PostgreSQL's type of each column as its values arrive in parameters (JSON as text). */
const postgresParameterTypes: Record<ColumnKind, string> = {
  text: 'text',
  integer: 'integer',
  money: 'bigint',
  epochMs: 'bigint',
  boolean: 'boolean',
  json: 'text',
  rowId: 'bigint',
};

/** The PostgreSQL parameter type of each of `properties`, in order. */
export function postgresTypes<Table extends LedgerTable>(
  table: Table,
  properties: readonly (keyof Table & string)[],
): string[] {
  return properties.map((property) => postgresParameterTypes[described(table, property).kind]);
}

/** `properties` as SQL expressions over their text-typed parameters: JSON cast to jsonb. */
export function postgresValueList<Table extends LedgerTable>(
  table: Table,
  properties: readonly (keyof Table & string)[],
  parameterOf: (name: string, position: number) => string,
): string {
  return properties
    .map((property, index) => {
      const column = described(table, property);
      const value = parameterOf(column.name, index);
      return column.kind === 'json' ? `${value}::jsonb` : value;
    })
    .join(', ');
}

/**
 * Statements on a Durable Object's SQLite storage as the ledger needs them. The storage API has no
 * bigint: a bigint parameter is bound as its decimal text (money SQL casts it back with
 * `CAST(? AS INTEGER)` where it is compared or added), and a read value that is a number must be
 * a safe integer or a plain real, never an integer that lost digits, so money read as a number is
 * exact or the read fails loudly (D1 and SQLite Durable Objects return integers as numbers).
 */
import { assert } from '../../assert.ts';
import type { SqlStorage, SqlStorageValue } from './workers-types.ts';

export type SqlParameter = SqlStorageValue | bigint | boolean | undefined;
export type SqlRow = Record<string, SqlStorageValue>;

export function bound(value: SqlParameter): SqlStorageValue {
  if (typeof value === 'bigint') {
    return value.toString();
  }
  if (typeof value === 'boolean') {
    return value ? 1 : 0;
  }
  return value ?? null;
}

/** The row, once no number in it is an integer that lost digits (D1 rows are checked too). */
export function checked(row: SqlRow): SqlRow {
  for (const [column, value] of Object.entries(row)) {
    assert(
      typeof value !== 'number' || Number.isSafeInteger(value) || !Number.isInteger(value),
      `${column} holds an integer beyond 2^53, which the storage API cannot return exactly`,
    );
  }
  return row;
}

export type DurableSql = {
  all(query: string, ...parameters: SqlParameter[]): SqlRow[];
  /** The first row, if any. */
  first(query: string, ...parameters: SqlParameter[]): SqlRow | undefined;
  /**
   * Runs a write. (How many rows changed is asked with RETURNING and `all`: the cursor's
   * rowsWritten counts index rows too.)
   */
  run(query: string, ...parameters: SqlParameter[]): void;
};

export function durableSql(sql: SqlStorage): DurableSql {
  const cursor = (query: string, parameters: SqlParameter[]) =>
    sql.exec(query, ...parameters.map(bound));
  return {
    all: (query, ...parameters) => cursor(query, parameters).toArray().map(checked),
    first(query, ...parameters) {
      const [row] = cursor(query, parameters).toArray();
      return row && checked(row);
    },
    run(query, ...parameters) {
      cursor(query, parameters).toArray();
    },
  };
}

/** Named parameters (`@name`) rewritten to positional ones, for the SQL shared with Node. */
export function positional(
  query: string,
  values: Readonly<Record<string, SqlParameter>>,
): [string, SqlParameter[]] {
  const parameters: SqlParameter[] = [];
  const text = query.replace(/@([A-Za-z]+)/g, (_match, name: string) => {
    assert(name in values, `the query names @${name}`);
    parameters.push(values[name]);
    return '?';
  });
  return [text, parameters];
}

/**
 * The drizzle SQLite database the catalog and the audit log are written against, whichever way
 * it answers: at once (better-sqlite3 on Node) or by promise (D1 on Cloudflare Workers). Their
 * code awaits every query and never opens an interactive transaction, which D1 has not: a write
 * that depends on what is stored is ONE statement (its condition inside it, where SQLite runs it
 * atomically), and writes that must land together go through `together` (a transaction on
 * better-sqlite3, a batch on D1, both all-or-nothing).
 */
import { getTableColumns, type SQL, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { BaseSQLiteDatabase, SQLiteTable } from 'drizzle-orm/sqlite-core';
import type * as schema from './schema.ts';

export type PortableSqliteDatabase = BaseSQLiteDatabase<'sync' | 'async', unknown, typeof schema>;

/** A query of a PortableSqliteDatabase that runs as one statement. */
export type TogetherQuery = BatchItem<'sqlite'> & { run(): unknown };

/** Runs the queries in order as one unit: every one of them lands, or none. */
export type RunTogether = (queries: readonly [TogetherQuery, ...TogetherQuery[]]) => Promise<void>;

export type PortableSqlite = { database: PortableSqliteDatabase; together: RunTogether };

/**
 * `INSERT INTO table SELECT <record> WHERE <condition>`: the row lands only if the condition holds
 * when the statement runs, decided inside the one statement. Every column of the table is taken
 * from `record`, in the table's order, through the column's own encoding (drizzle names them in
 * that order; a generated column, which it leaves out, the tables used here do not have).
 */
export function insertWhere<Table extends SQLiteTable>(
  database: PortableSqliteDatabase,
  table: Table,
  record: Table['$inferSelect'],
  condition: SQL,
) {
  const values = Object.entries(getTableColumns(table)).map(([key, column]) =>
    sql.param((record as Record<string, unknown>)[key], column),
  );
  return database.insert(table).select(sql`SELECT ${sql.join(values, sql`, `)} WHERE ${condition}`);
}

/** The database of the SQLite stores that run only where SQLite answers at once (Node, objects). */
export type SqliteDatabase = BaseSQLiteDatabase<'sync', unknown, typeof schema>;

/** A synchronous database as a PortableSqlite: writes that land together are one transaction. */
export function synchronousSqlite(database: SqliteDatabase): PortableSqlite {
  return {
    database,
    together: async (queries) => {
      database.transaction(() => {
        for (const query of queries) {
          query.run();
        }
      });
    },
  };
}

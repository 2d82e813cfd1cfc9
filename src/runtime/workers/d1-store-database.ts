/**
 * The deployment's D1 database (wrangler.toml `[[d1_databases]]`, schema from drizzle/ by
 * `wrangler d1 migrations apply`) as the PortableSqlite the catalog and the audit log run on
 * (db/portable-sqlite.ts): drizzle's D1 driver, with every parameter bound the way the Durable
 * Objects bind theirs (D1 binds no bigint: money goes as its decimal text, which the INTEGER
 * column stores as an integer), and writes that land together sent as one batch, which D1 commits
 * all together or not at all.
 */
import { drizzle } from 'drizzle-orm/d1';
import type { PortableSqlite } from '../../db/portable-sqlite.ts';
import * as schema from '../../db/schema.ts';
import { bound, type SqlParameter } from './durable-sql.ts';
import type { D1Database, D1PreparedStatement } from './workers-types.ts';

/** A statement whose parameters pass through `bound` before D1 sees them. */
function boundStatement(statement: D1PreparedStatement): D1PreparedStatement {
  return {
    bind: (...values: SqlParameter[]) => statement.bind(...values.map(bound)),
    run: () => statement.run(),
    all: () => statement.all(),
    first: () => statement.first(),
    raw: () => statement.raw(),
  };
}

export function d1StoreDatabase(d1: D1Database): PortableSqlite {
  const client: D1Database = {
    prepare: (query) => boundStatement(d1.prepare(query)),
    batch: (statements) => d1.batch(statements),
  };
  // drizzle types its client as the whole D1Database of @cloudflare/workers-types (not installed
  // here: its globals clash with the DOM's); it calls only `prepare`, `bind` and `batch`.
  const database = drizzle(client as unknown as Parameters<typeof drizzle>[0], { schema });
  return {
    database,
    together: async (queries) => {
      await database.batch(queries);
    },
  };
}

/**
 * A drizzle database over a Durable Object's SQLite storage (drizzle-orm/durable-sqlite), for the
 * runtime-neutral stores of src/db/ written against drizzle's synchronous SQLite builder (the
 * lease records). The storage API binds no bigint, and the schema's money columns hand drizzle
 * bigints, so every parameter passes through the same binding as the ledger's own statements.
 */
import { type DrizzleSqliteDODatabase, drizzle } from 'drizzle-orm/durable-sqlite';
import * as schema from '../../db/schema.ts';
import { bound, type SqlParameter } from './durable-sql.ts';
import type { DurableObjectStorage } from './workers-types.ts';

export type DurableStoreDatabase = DrizzleSqliteDODatabase<typeof schema>;

export function durableStoreDatabase(storage: DurableObjectStorage): DurableStoreDatabase {
  const binding = {
    sql: {
      exec: (query: string, ...parameters: SqlParameter[]) =>
        storage.sql.exec(query, ...parameters.map(bound)),
    },
    transactionSync: <Result>(body: () => Result) => storage.transactionSync(body),
  };
  // drizzle types its client as the whole DurableObjectStorage; it calls only these two members.
  return drizzle(binding as unknown as Parameters<typeof drizzle>[0], { schema });
}

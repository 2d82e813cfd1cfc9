/**
 * Column types shared by the tables, for each dialect. SQLite: money is a bigint over INTEGER
 * (drizzle's integer has no bigint mode, and a money value must never pass through a JS number
 * unchecked); lists are JSON text; times are integer milliseconds since the epoch; bytes are
 * blobs. PostgreSQL: money is `bigint` in mode 'bigint', never a JS number; times are `bigint`
 * milliseconds in mode 'number' (epoch milliseconds exceed int4 but stay far below 2^53); lists
 * are jsonb; bytes are bytea.
 */
import { bigint, jsonb, customType as pgCustomType } from 'drizzle-orm/pg-core';
import { customType, integer, text } from 'drizzle-orm/sqlite-core';

function toBigint(value: number | bigint | string): bigint {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new RangeError(`money column holds ${value}, outside the safe integer range`);
    }
    return BigInt(value);
  }
  return BigInt(value);
}

/** Micro-units of the deployment currency. */
export const money = customType<{ data: bigint; driverData: number | bigint | string }>({
  dataType: () => 'integer',
  toDriver: (value) => value,
  fromDriver: toBigint,
});

/** A JSON array of strings, or NULL for "no restriction". */
export const stringList = (name: string) => text(name, { mode: 'json' }).$type<string[]>();

export const createdAtMs = () => integer('created_at_ms').notNull();

/** Micro-units of the deployment currency (PostgreSQL). */
export const pgMoney = (name: string) => bigint(name, { mode: 'bigint' });

/** Milliseconds since the epoch (PostgreSQL). */
export const pgEpochMs = (name: string) => bigint(name, { mode: 'number' });

/** A JSON array of strings, or NULL for "no restriction" (PostgreSQL). */
export const pgStringList = (name: string) => jsonb(name).$type<string[]>();

export const pgCreatedAtMs = () => pgEpochMs('created_at_ms').notNull();

/** Row ids the store numbers itself: transactions, transfers, audit events (PostgreSQL). */
export const pgSerialId = () =>
  bigint('id', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity();

/**
 * Raw bytes (SQLite blob). Typed Uint8Array, not Node's Buffer: the schema stays runtime-neutral,
 * and better-sqlite3 binds any Uint8Array (it returns a Buffer, which is one).
 */
export const binary = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => 'blob',
});

/** Raw bytes (PostgreSQL bytea): node-postgres binds any Uint8Array and returns a Buffer. */
export const pgBinary = pgCustomType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => 'bytea',
});

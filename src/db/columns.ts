/**
 * Column types shared by the tables. Money is a bigint over SQLite INTEGER: drizzle's integer has
 * no bigint mode, and a money value must never pass through a JS number unchecked. Lists are JSON
 * text; times are integer milliseconds since the epoch.
 */
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

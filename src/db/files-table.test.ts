import { getTableColumns } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { files as postgresFiles } from './postgres-schema.ts';
import { files as sqliteFiles } from './schema.ts';

/** Name, nullability and allowed values of each column: what both stores must agree on. */
function shapeOf(table: typeof sqliteFiles | typeof postgresFiles) {
  return Object.entries(getTableColumns(table)).map(([property, column]) => ({
    property,
    name: column.name,
    notNull: column.notNull,
    values: column.enumValues ?? null,
  }));
}

describe('the files table', () => {
  it('has the same columns in SQLite and PostgreSQL', () => {
    expect(shapeOf(sqliteFiles)).toEqual(shapeOf(postgresFiles));
  });

  it('keeps the bytes as bytes in each dialect', () => {
    expect(sqliteFiles.content.getSQLType()).toBe('blob');
    expect(postgresFiles.content.getSQLType()).toBe('bytea');
  });
});

import { getTableColumns, type Table } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { ColumnKind, LedgerColumn, LedgerTable } from './ledger-column.ts';
import { ledgerTables, sqliteJournalColumns } from './ledger-tables.ts';
import * as postgresSchema from './postgres-schema.ts';
import * as sqliteSchema from './schema.ts';

/** The SQL type drizzle declares for each kind of column, per dialect. */
const sqlTypes: Record<'sqlite' | 'postgres', Record<ColumnKind, string>> = {
  sqlite: {
    text: 'text',
    integer: 'integer',
    money: 'integer',
    epochMs: 'integer',
    boolean: 'integer',
    json: 'text',
    rowId: 'integer',
  },
  postgres: {
    text: 'text',
    integer: 'integer',
    money: 'bigint',
    epochMs: 'bigint',
    boolean: 'boolean',
    json: 'jsonb',
    rowId: 'bigint',
  },
};

const schemaTables: Record<keyof typeof ledgerTables, { sqlite: Table; postgres: Table }> = {
  accounts: { sqlite: sqliteSchema.accounts, postgres: postgresSchema.accounts },
  coupons: { sqlite: sqliteSchema.coupons, postgres: postgresSchema.coupons },
  ledger_transactions: {
    sqlite: sqliteSchema.ledgerTransactions,
    postgres: postgresSchema.ledgerTransactions,
  },
  transfers: { sqlite: sqliteSchema.transfers, postgres: postgresSchema.transfers },
  reservations: { sqlite: sqliteSchema.reservations, postgres: postgresSchema.reservations },
  usage_records: { sqlite: sqliteSchema.usageRecords, postgres: postgresSchema.usageRecords },
};

/** What a column list says of each column, as drizzle would say it of the same column. */
function described(table: LedgerTable, dialect: 'sqlite' | 'postgres') {
  return Object.values(table).map((column: LedgerColumn) => ({
    name: column.name,
    sqlType: sqlTypes[dialect][column.kind],
    notNull: !column.nullable,
    values: column.values ?? null,
  }));
}

function declared(table: Table) {
  return Object.values(getTableColumns(table)).map((column) => ({
    name: column.name,
    sqlType: column.getSQLType(),
    notNull: column.notNull,
    values: column.enumValues ?? null,
  }));
}

describe.each(Object.entries(ledgerTables))('the %s column list', (name, table) => {
  const tables = schemaTables[name as keyof typeof ledgerTables];

  it.each(['sqlite', 'postgres'] as const)('is the %s schema, column for column', (dialect) => {
    const journal = dialect === 'sqlite' ? sqliteJournalColumns[name as 'reservations'] : {};
    expect(described({ ...table, ...journal }, dialect)).toEqual(declared(tables[dialect]));
  });
});

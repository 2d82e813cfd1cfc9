/**
 * Writes what a SQLite ledger transaction deferred (see ledger-effects.ts): the summed balance
 * changes of the system accounts, one UPDATE per account, and the queued rows of the append-only
 * tables, many rows per INSERT. Multi-row INSERTs cost about half as much per row as one INSERT
 * per row, and these tables take most of the ledger's writes.
 */
import type Database from 'better-sqlite3';
import { assert } from '../../../assert.ts';
import { columnNames } from '../../../db/ledger-column.ts';
import {
  ledgerTransactionColumns,
  transferColumns,
  usageRecordColumns,
} from '../../../db/ledger-tables.ts';
import type { AppendTable, IdentifiedTable, LedgerEffects, QueuedRows } from './ledger-effects.ts';

/** The columns each append-only table is written with, in the order rows queue their values. */
export const appendColumns: Record<AppendTable, readonly string[]> = {
  ledger_transactions: columnNames(ledgerTransactionColumns),
  transfers: columnNames(transferColumns),
  usage_records: columnNames(usageRecordColumns),
};

/** Most rows one INSERT carries (well under SQLite's limit on bound parameters). */
const rowsPerInsertMax = 64;

export type DeferredWriter = ReturnType<typeof createDeferredWriter>;

export function createDeferredWriter(connection: Database.Database, effects: LedgerEffects) {
  const addBalances = connection.prepare(
    `UPDATE accounts SET debits_posted = debits_posted + @debits_posted,
       credits_posted = credits_posted + @credits_posted,
       debits_pending = debits_pending + @debits_pending,
       credits_pending = credits_pending + @credits_pending
     WHERE id = @id`,
  );
  const maximumIds: Record<IdentifiedTable, Database.Statement> = {
    ledger_transactions: connection
      .prepare('SELECT COALESCE(MAX(id), 0) FROM ledger_transactions')
      .pluck(),
    transfers: connection.prepare('SELECT COALESCE(MAX(id), 0) FROM transfers').pluck(),
  };
  const inserts = new Map<string, Database.Statement>();

  function insertOf(table: AppendTable, rowCount: number): Database.Statement {
    const key = `${table}:${rowCount}`;
    let statement = inserts.get(key);
    if (!statement) {
      const columns = appendColumns[table];
      const row = `(${columns.map(() => '?').join(', ')})`;
      statement = connection.prepare(
        `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${Array(rowCount).fill(row).join(', ')}`,
      );
      inserts.set(key, statement);
    }
    return statement;
  }

  function insertRows(table: AppendTable, queued: QueuedRows): void {
    const columnCount = appendColumns[table].length;
    assert(queued.values.length === queued.rowCount * columnCount, `${table} rows are whole`);
    for (let start = 0; start < queued.rowCount; start += rowsPerInsertMax) {
      const rowCount = Math.min(rowsPerInsertMax, queued.rowCount - start);
      const values = queued.values.slice(start * columnCount, (start + rowCount) * columnCount);
      insertOf(table, rowCount).run(values);
    }
  }

  return {
    /** The id the next row of `table` takes in this transaction. */
    nextId(table: IdentifiedTable): number {
      return effects.nextId(table, () => Number(maximumIds[table].get()));
    },
    /** Writes everything deferred so far; anything that reads those tables calls this first. */
    write(): void {
      const { balances, rows } = effects.takeWrites();
      // Parents before children: transfers name their transaction.
      for (const table of ['ledger_transactions', 'transfers', 'usage_records'] as const) {
        const queued = rows.get(table);
        if (queued) {
          insertRows(table, queued);
        }
      }
      for (const [id, delta] of balances) {
        assert(addBalances.run({ id, ...delta }).changes === 1, `no account ${id}`);
      }
    },
  };
}

/**
 * Writes what a SQLite ledger transaction deferred (see ledger-effects.ts): the summed balance
 * changes of the system accounts, one UPDATE per account, and the queued rows of the append-only
 * tables, many rows per INSERT. Multi-row INSERTs cost about half as much per row as one INSERT
 * per row, and these tables take most of the ledger's writes. Ids come from journal_ids, which
 * numbers the rows kept in full and those the lean records derive alike (request-journal.ts).
 */
import type Database from 'better-sqlite3';
import { assert } from '../../../assert.ts';
import { columnNames } from '../../../db/ledger-column.ts';
import {
  ledgerTransactionColumns,
  transferColumns,
  usageJournalColumns,
  usageRecordColumns,
} from '../../../db/ledger-tables.ts';
import type { AppendTable, IdentifiedTable, LedgerEffects, QueuedRows } from './ledger-effects.ts';

/** The columns each append-only table is written with, in the order rows queue their values. */
export const appendColumns: Record<AppendTable, readonly string[]> = {
  journal_transactions: columnNames(ledgerTransactionColumns),
  journal_transfers: columnNames(transferColumns),
  // A usage record's own columns, then the transaction it carries (request-journal.ts).
  usage_records: [...columnNames(usageRecordColumns), ...columnNames(usageJournalColumns)],
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
  // The larger of the sequence and the table's own maximum: a row inserted by hand keeps its id.
  const maximumIds: Record<IdentifiedTable, Database.Statement> = {
    journal_transactions: connection
      .prepare(
        `SELECT MAX(last_transaction_id, COALESCE((SELECT MAX(id) FROM journal_transactions), 0))
         FROM journal_ids WHERE id = 1`,
      )
      .pluck(),
    journal_transfers: connection
      .prepare(
        `SELECT MAX(last_transfer_id, COALESCE((SELECT MAX(id) FROM journal_transfers), 0))
         FROM journal_ids WHERE id = 1`,
      )
      .pluck(),
  };
  const saveLastIds = connection.prepare(
    `UPDATE journal_ids SET last_transaction_id = MAX(last_transaction_id, @transactions),
       last_transfer_id = MAX(last_transfer_id, @transfers) WHERE id = 1`,
  );
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
      const lastIds = effects.lastIds();
      if (lastIds.size > 0) {
        saveLastIds.run({
          transactions: lastIds.get('journal_transactions') ?? 0,
          transfers: lastIds.get('journal_transfers') ?? 0,
        });
      }
      // Parents before children: transfers name their transaction.
      for (const table of ['journal_transactions', 'journal_transfers', 'usage_records'] as const) {
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

/**
 * The lean journal of the SQLite ledger (DESIGN.md §4): a request's own transactions (reserve,
 * settle, release) are not written as transaction and transfer rows. The reservation carries its
 * `reserve:` transaction and holds (its legs), the usage record its `settle:` or `release:`
 * transaction and transfers, so a request writes two rows. The views `ledger_transactions` and
 * `transfers` (migration 0012_lean_journal) derive the rows from them, with ids from the same
 * sequences as the rows kept in full, so every reader and the ledger check see one journal.
 * This module holds the transaction being built until its record is written, and its encoding.
 */
import { assert } from '../../../assert.ts';
import { accountIds } from '../../../billing/ledger-accounts.ts';
import type { TransferFlag } from '../../../db/enums.ts';
import { propertiesOf, type RowOf, rowValues } from '../../../db/ledger-column.ts';
import { reservationJournalColumns, usageJournalColumns } from '../../../db/ledger-tables.ts';

/** The kinds of transaction a request's records carry. */
const requestKinds = new Set(['reserve', 'settle', 'release']);

export function isRequestKind(kind: string): boolean {
  return requestKinds.has(kind);
}

export type JournalTransfer = {
  id: number;
  debitAccountId: string;
  creditAccountId: string;
  amount: bigint;
  flag: TransferFlag;
  pendingId: number | null;
};

/** A request's transaction being built, written with its reservation or usage record. */
export type RequestJournal = {
  transactionId: number;
  kind: string;
  transfers: JournalTransfer[];
};

/** The first transfer's id; the others follow it one by one (asserted as they are added). */
function firstTransferId(journal: RequestJournal): number | null {
  return journal.transfers[0]?.id ?? null;
}

/** Adds a transfer; its id must follow the last one's, as the views number them. */
export function addJournalTransfer(journal: RequestJournal, transfer: JournalTransfer): void {
  const first = firstTransferId(journal);
  assert(
    first === null || transfer.id === first + journal.transfers.length,
    "a request's transfers take consecutive ids",
  );
  journal.transfers.push(transfer);
}

/** A JSON array of rows, amounts as JSON integers (SQLite reads them back as 64-bit integers). */
function jsonRows(rows: readonly (readonly (string | bigint | number | null)[])[]): string {
  const value = (item: string | bigint | number | null) =>
    typeof item === 'string' ? JSON.stringify(item) : String(item);
  return `[${rows.map((row) => `[${row.map(value).join(',')}]`).join(',')}]`;
}

const reservationJournalProperties = propertiesOf(reservationJournalColumns);
const usageJournalProperties = propertiesOf(usageJournalColumns);

/** What a reservation carries of its `reserve:` transaction: holds crediting `holds`. */
export function reservationJournalValues(journal: RequestJournal): unknown[] {
  assert(journal.kind === 'reserve', 'a reservation carries its reserve transaction');
  const legs = journal.transfers.map((transfer) => {
    assert(
      transfer.flag === 'pending' && transfer.creditAccountId === accountIds.holds,
      'a reservation leg is a hold into holds',
    );
    return [transfer.debitAccountId, transfer.amount];
  });
  const row: RowOf<typeof reservationJournalColumns> = {
    transactionId: journal.transactionId,
    firstTransferId: firstTransferId(journal),
    legs: jsonRows(legs),
  };
  return rowValues(reservationJournalColumns, reservationJournalProperties, row);
}

/** What a usage record carries of its `settle:` or `release:` transaction, if any. */
export function usageJournalValues(journal: RequestJournal | undefined): unknown[] {
  assert(journal?.kind !== 'reserve', 'a usage record carries a settle or a release');
  const row: RowOf<typeof usageJournalColumns> = journal
    ? {
        transactionId: journal.transactionId,
        firstTransferId: firstTransferId(journal),
        transactionKind: journal.kind,
        transfers: jsonRows(
          journal.transfers.map((transfer) => [
            transfer.debitAccountId,
            transfer.creditAccountId,
            transfer.amount,
            transfer.flag,
            transfer.pendingId,
          ]),
        ),
      }
    : { transactionId: null, firstTransferId: null, transactionKind: null, transfers: null };
  return rowValues(usageJournalColumns, usageJournalProperties, row);
}

/**
 * The one statement that writes a ledger unit's journal (postgres-ledger-journal.ts): its
 * transactions, their transfers, every balance change and the rows of coupons, reservations and
 * usage, each part a data-modifying CTE, so a reserve or a settle writes everything in one
 * statement instead of one per table. Only the parts the journal has are in it (the server then
 * initializes no plan node for nothing), so there is one prepared statement per shape of journal:
 * a handful in all. Rows to insert come as one array per column (`unnest`); rows to change come
 * as a VALUES list with a row each, so the planner knows exactly how many there are and looks
 * each up by its key. Transfers of a transaction inserted here name it by idempotency key and
 * take its stored id from the RETURNING of the first part; the foreign key checks run at the end
 * of the statement, once every part is in.
 *
 * The balance UPDATE is guarded (`... WHERE available after the change >= 0`): a refused guard
 * leaves it a row short. The statement counts the rows each guarded part changed and, when one
 * is short (a guard refused, a coupon or reservation to end was not active), fails on the server
 * with a SQLSTATE of its own (refusalCodes), so the transaction cannot commit; the
 * COMMIT sent behind it in the same batch rolls back instead. Its answer is one row: the stored
 * id of each new transaction by idempotency key.
 */
import type pg from 'pg';
import { assert } from '../../../assert.ts';
import { InsufficientFundsError } from '../../../billing/ledger-accounts.ts';
import {
  columnList,
  type LedgerTable,
  postgresTypes,
  postgresValueList,
  propertiesOf,
  rowValues,
} from '../../../db/ledger-column.ts';
import {
  ledgerTransactionColumns,
  reservationColumns,
  transferColumns,
  usageRecordColumns,
} from '../../../db/ledger-tables.ts';
import {
  reservationProperties,
  storedReservationOf,
  storedTransactionOf,
  storedUsageOf,
  usageProperties,
} from '../../ledger-row-codecs.ts';
import type { JournalTransfer, LedgerJournal } from './postgres-ledger-journal.ts';
import { integerOf, type Row } from './postgres-ledger-rows.ts';

/**
 * The SQLSTATEs the statement fails with when it refuses (through `tokenbank_refuse`, migration
 * 0009), so a refusal is told from any other error by its code: a balance guard refused; a
 * coupon or reservation to end was no longer open.
 */
export const refusalCodes = { guard: 'TBG01', rows: 'TBJ01' } as const;

/** A statement's text and values, built together: each value becomes the next `$n`, typed. */
class StatementParameters {
  readonly values: unknown[] = [];

  add(value: unknown, type: string): string {
    this.values.push(value);
    return `$${this.values.length}::${type}`;
  }

  /** One array parameter per column of `rows`. */
  columns(rows: readonly unknown[][], types: readonly string[]): string {
    return types
      .map((type, column) =>
        this.add(
          rows.map((row) => row[column]),
          `${type}[]`,
        ),
      )
      .join(', ');
  }

  /** A VALUES list with one row per row: the planner knows exactly how many rows it holds. */
  valuesList(rows: readonly unknown[][], types: readonly string[]): string {
    return rows
      .map((row) => `(${types.map((type, column) => this.add(row[column], type)).join(', ')})`)
      .join(', ');
  }
}

/**
 * `INSERT INTO table (columns) SELECT ... FROM unnest(one array per column)` for the rows' values
 * of `properties`, in their order (inserted in that order when `ordered`: ids follow it): the
 * column list, the array types and the values all come from the table's one list of columns.
 */
function unnestInsert<Table extends LedgerTable>(
  parameters: StatementParameters,
  table: { name: string; columns: Table; ordered: boolean },
  properties: readonly (keyof Table & string)[],
  rows: readonly unknown[][],
): string {
  const arrays = parameters.columns(rows, postgresTypes(table.columns, properties));
  const names = columnList(table.columns, properties);
  const source = table.ordered
    ? `unnest(${arrays}) WITH ORDINALITY AS d(${names}, position) ORDER BY position`
    : `unnest(${arrays}) AS d(${names})`;
  return `INSERT INTO ${table.name} (${names})
    SELECT ${postgresValueList(table.columns, properties, (name) => name)} FROM ${source}`;
}

/** A part of the statement (its CTE's name) that changes guarded rows, and how many it must. */
type GuardedPart = { name: string; expected: number; what: string };

/** Every column of a transaction but its id, which the store numbers. */
const transactionProperties = propertiesOf(ledgerTransactionColumns).filter(
  (property) => property !== 'id',
);

function recordedPart(journal: LedgerJournal, parameters: StatementParameters): string {
  const rows = journal.transactions.map(({ fields }) =>
    rowValues(ledgerTransactionColumns, transactionProperties, storedTransactionOf(fields)),
  );
  const insert = unnestInsert(
    parameters,
    { name: 'ledger_transactions', columns: ledgerTransactionColumns, ordered: true },
    transactionProperties,
    rows,
  );
  return `recorded AS (${insert} RETURNING id, idempotency_key)`;
}

/** A transfer's columns but its id (the store numbers it) and its transaction (named apart). */
const movedProperties = propertiesOf(transferColumns).filter(
  (property) => property !== 'id' && property !== 'transactionId',
);

/** Transfers in journal order; one of a transaction inserted beside it names it by key. */
function movedPart(journal: LedgerJournal, parameters: StatementParameters): string {
  const keyOfProvisional = new Map(
    journal.transactions.map(({ provisionalId, fields }) => [provisionalId, fields.idempotencyKey]),
  );
  const keyOf = (transfer: JournalTransfer) => {
    if (transfer.transactionId > 0) {
      return null;
    }
    const key = keyOfProvisional.get(transfer.transactionId);
    assert(key !== undefined, `transaction ${transfer.transactionId} is in the journal`);
    return key;
  };
  const rows = journal.transfers.map((transfer) => [
    transfer.transactionId > 0 ? transfer.transactionId : null,
    keyOf(transfer),
    ...rowValues(transferColumns, movedProperties, { ...transfer, createdAtMs: transfer.atMs }),
  ]);
  const arrays = parameters.columns(rows, [
    'bigint',
    'text',
    ...postgresTypes(transferColumns, movedProperties),
  ]);
  const recorded = journal.transactions.length > 0;
  const names = columnList(transferColumns, movedProperties);
  return `moved AS (
    INSERT INTO transfers (transaction_id, ${names})
    SELECT ${recorded ? 'COALESCE(m.transaction_id, r.id)' : 'm.transaction_id'},
      ${columnList(transferColumns, movedProperties, 'm')}
    FROM unnest(${arrays}) WITH ORDINALITY
      AS m(transaction_id, transaction_key, ${names}, position)
    ${recorded ? 'LEFT JOIN recorded r ON r.idempotency_key = m.transaction_key' : ''}
    ORDER BY m.position)`;
}

function balancedPart(journal: LedgerJournal, parameters: StatementParameters): string {
  const rows = journal.balanceChanges.map((change) => [
    change.id,
    change.debitsPosted,
    change.creditsPosted,
    change.debitsPending,
    change.creditsPending,
  ]);
  const values = parameters.valuesList(rows, ['text', 'bigint', 'bigint', 'bigint', 'bigint']);
  return `balanced AS (
    UPDATE accounts a SET debits_posted = a.debits_posted + d.debits_posted,
      credits_posted = a.credits_posted + d.credits_posted,
      debits_pending = a.debits_pending + d.debits_pending,
      credits_pending = a.credits_pending + d.credits_pending
    FROM (VALUES ${values})
      AS d(id, debits_posted, credits_posted, debits_pending, credits_pending)
    WHERE a.id = d.id AND (NOT a.no_overdraft
      OR (a.credits_posted + d.credits_posted) - (a.debits_posted + d.debits_posted)
         - (a.debits_pending + d.debits_pending) >= 0)
    RETURNING a.id)`;
}

/**
 * Ends rows still open, once each (coupons that leave 'active', reservations that leave
 * 'reserved'): a row already ended is not changed, so the part comes back a row short.
 */
function endedOncePart(
  parameters: StatementParameters,
  part: { name: string; table: string; key: string; openStatus: string },
  ends: readonly { key: string; status: string; atMs: number }[],
): string {
  const values = parameters.valuesList(
    ends.map((end) => [end.key, end.status, end.atMs]),
    ['text', 'text', 'bigint'],
  );
  return `${part.name} AS (
    UPDATE ${part.table} e SET status = d.status, ended_at_ms = d.at_ms
    FROM (VALUES ${values}) AS d(${part.key}, status, at_ms)
    WHERE e.${part.key} = d.${part.key} AND e.status = '${part.openStatus}'
    RETURNING e.${part.key})`;
}

function reservedPart(journal: LedgerJournal, parameters: StatementParameters): string {
  const rows = journal.reservationInserts.map((row) =>
    rowValues(reservationColumns, reservationProperties, storedReservationOf(row)),
  );
  const insert = unnestInsert(
    parameters,
    { name: 'reservations', columns: reservationColumns, ordered: false },
    reservationProperties,
    rows,
  );
  return `reserved AS (${insert})`;
}

function usedPart(journal: LedgerJournal, parameters: StatementParameters): string {
  const rows = journal.usageInserts.map((row) =>
    rowValues(usageRecordColumns, usageProperties, storedUsageOf(row)),
  );
  const insert = unnestInsert(
    parameters,
    { name: 'usage_records', columns: usageRecordColumns, ordered: false },
    usageProperties,
    rows,
  );
  return `used AS (${insert})`;
}

/** 'written', or a refusal (failing the statement) naming what was short. */
function verdictOf(guarded: readonly GuardedPart[]): string {
  if (guarded.length === 0) {
    return `'written'`;
  }
  const complete = guarded.map((part) => `${part.name} = ${part.expected}`).join(' AND ');
  const balances = guarded.find((part) => part.name === 'balanced');
  const code =
    balances === undefined
      ? `'${refusalCodes.rows}'`
      : `CASE WHEN balanced = ${balances.expected} THEN '${refusalCodes.rows}' ELSE '${refusalCodes.guard}' END`;
  const counts = guarded
    .map((part) => `${part.name} || ' of ${part.expected} ${part.what}'`)
    .join(` || ', ' || `);
  return `CASE WHEN ${complete} THEN 'written'
    ELSE tokenbank_refuse(${code}, 'the ledger journal refused: ' || ${counts}) END`;
}

/**
 * The statement for this journal: only the parts it has, so the server initializes no plan
 * node for nothing. Its text, and so its prepared name, depends only on which parts there are
 * and on how many balance changes, coupon ends and reservation ends (a VALUES row each): a
 * handful of shapes in all.
 */
export function journalStatement(journal: LedgerJournal): pg.QueryConfig {
  const parameters = new StatementParameters();
  const parts: string[] = [];
  const guarded: GuardedPart[] = [];
  const shape: (number | string)[] = [];
  const include = (present: boolean, build: () => string, guard?: GuardedPart) => {
    shape.push(present ? (guard?.expected ?? 1) : 0);
    if (present) {
      parts.push(build());
      if (guard) {
        guarded.push(guard);
      }
    }
  };
  const { transactions, transfers, balanceChanges, couponEnds, reservationEnds } = journal;
  include(transactions.length > 0, () => recordedPart(journal, parameters));
  include(transfers.length > 0, () => movedPart(journal, parameters));
  include(balanceChanges.length > 0, () => balancedPart(journal, parameters), {
    name: 'balanced',
    expected: balanceChanges.length,
    what: 'balance changes',
  });
  const endCoupons = () =>
    endedOncePart(
      parameters,
      { name: 'coupons_ended', table: 'coupons', key: 'id', openStatus: 'active' },
      couponEnds.map((end) => ({ ...end, key: end.id })),
    );
  const endReservations = () =>
    endedOncePart(
      parameters,
      {
        name: 'reservations_ended',
        table: 'reservations',
        key: 'request_id',
        openStatus: 'reserved',
      },
      reservationEnds.map((end) => ({ ...end, key: end.requestId })),
    );
  include(couponEnds.length > 0, endCoupons, {
    name: 'coupons_ended',
    expected: couponEnds.length,
    what: 'coupon ends',
  });
  include(journal.reservationInserts.length > 0, () => reservedPart(journal, parameters));
  include(reservationEnds.length > 0, endReservations, {
    name: 'reservations_ended',
    expected: reservationEnds.length,
    what: 'reservation ends',
  });
  include(journal.usageInserts.length > 0, () => usedPart(journal, parameters));
  assert(parts.length > 0, 'a journal statement writes something');
  const counted = guarded
    .map((part) => `(SELECT count(*) FROM ${part.name}) AS ${part.name}`)
    .join(', ');
  const recorded =
    transactions.length > 0
      ? '(SELECT json_object_agg(idempotency_key, id::text) FROM recorded)'
      : 'NULL::json';
  const text = `WITH ${parts.join(', ')}
    SELECT ${recorded} AS recorded, ${verdictOf(guarded)} AS verdict
    ${counted === '' ? '' : `FROM (SELECT ${counted}) counted`}`;
  return { name: `tb_journal_${shape.join('_')}`, text, values: parameters.values };
}

/** Records the stored id of each new transaction from the statement's answer. */
export function takeJournalAnswer(
  journal: LedgerJournal,
  answer: Row | undefined,
  storedIds: Map<number, number>,
): void {
  assert(answer?.verdict === 'written', 'the journal statement wrote everything it was given');
  const recorded = (answer.recorded ?? {}) as Record<string, unknown>;
  for (const { provisionalId, fields } of journal.transactions) {
    const id = recorded[fields.idempotencyKey];
    assert(id !== undefined, `transaction ${fields.idempotencyKey} was inserted`);
    storedIds.set(provisionalId, integerOf(id));
  }
}

/**
 * The statement's refusal as an error of the ledger, told by its SQLSTATE: InsufficientFundsError
 * when a balance guard refused (what the store's guard stands for), a plain Error when a coupon
 * or reservation to end was not open; undefined for any other error.
 */
export function journalRefusalOf(error: unknown): Error | undefined {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : 'the ledger journal refused';
  if (code === refusalCodes.guard) {
    return new InsufficientFundsError(text, { cause: error });
  }
  return code === refusalCodes.rows ? new Error(text, { cause: error }) : undefined;
}

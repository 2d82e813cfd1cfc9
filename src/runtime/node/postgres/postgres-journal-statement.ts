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
 * (a cast that cannot succeed, naming what was refused), so the transaction cannot commit; the
 * COMMIT sent behind it in the same batch rolls back instead. Its answer is one row: the stored
 * id of each new transaction by idempotency key.
 */
import type pg from 'pg';
import { assert } from '../../../assert.ts';
import { InsufficientFundsError } from '../../../billing/ledger-accounts.ts';
import { usageRowColumns, usageRowValues } from '../../../billing/ledger-unit.ts';
import type { JournalTransfer, LedgerJournal } from './postgres-ledger-journal.ts';
import { integerOf, type Row } from './postgres-ledger-rows.ts';

/** The SQL type of each usage column, as its values arrive in the arrays (paid_by as text). */
const usageColumnTypes: Record<(typeof usageRowColumns)[number], string> = {
  request_id: 'text',
  tenant_id: 'text',
  key_id: 'text',
  model: 'text',
  region: 'text',
  backend_id: 'text',
  provider_id: 'text',
  input_tokens: 'integer',
  cached_input_tokens: 'integer',
  output_tokens: 'integer',
  reasoning_tokens: 'integer',
  usage_source: 'text',
  outcome: 'text',
  cost: 'bigint',
  provider_share: 'bigint',
  paid_by: 'text',
  price_id: 'text',
  verified_output_tokens: 'integer',
  created_at_ms: 'bigint',
  settled_at_ms: 'bigint',
};

const usageSelected = usageRowColumns
  .map((column) => (column === 'paid_by' ? 'paid_by::jsonb' : column))
  .join(', ');

/**
 * Plain SQL cannot raise an error, but a cast that cannot succeed does: the statement refuses by
 * casting a text naming what was refused to integer (error 22P02), which starts with one of these.
 */
const guardRefused = 'tokenbank balance guard refused';
const rowsRefused = 'tokenbank journal refused';

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

/** A part of the statement (its CTE's name) that changes guarded rows, and how many it must. */
type GuardedPart = { name: string; expected: number; what: string };

function recordedPart(journal: LedgerJournal, parameters: StatementParameters): string {
  const rows = journal.transactions.map(({ fields }) => [
    fields.idempotencyKey,
    fields.kind,
    fields.tenantId,
    fields.requestId,
    fields.reference,
    fields.amountMicro,
    fields.atMs,
  ]);
  const arrays = parameters.columns(rows, [
    'text',
    'text',
    'text',
    'text',
    'text',
    'bigint',
    'bigint',
  ]);
  return `recorded AS (
    INSERT INTO ledger_transactions (idempotency_key, kind, tenant_id, request_id, reference,
      amount, created_at_ms)
    SELECT key, kind, tenant_id, request_id, reference, amount, created_at_ms
    FROM unnest(${arrays}) WITH ORDINALITY
      AS d(key, kind, tenant_id, request_id, reference, amount, created_at_ms, position)
    ORDER BY position
    RETURNING id, idempotency_key)`;
}

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
    transfer.debitAccountId,
    transfer.creditAccountId,
    transfer.amount,
    transfer.flag,
    transfer.pendingId,
    transfer.atMs,
  ]);
  const arrays = parameters.columns(rows, [
    'bigint',
    'text',
    'text',
    'text',
    'bigint',
    'text',
    'bigint',
    'bigint',
  ]);
  const recorded = journal.transactions.length > 0;
  return `moved AS (
    INSERT INTO transfers (transaction_id, debit_account_id, credit_account_id, amount, flag,
      pending_id, created_at_ms)
    SELECT ${recorded ? 'COALESCE(m.transaction_id, r.id)' : 'm.transaction_id'},
      m.debit_account_id, m.credit_account_id, m.amount, m.flag, m.pending_id, m.created_at_ms
    FROM unnest(${arrays}) WITH ORDINALITY
      AS m(transaction_id, transaction_key, debit_account_id, credit_account_id, amount, flag,
        pending_id, created_at_ms, position)
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

function couponsEndedPart(journal: LedgerJournal, parameters: StatementParameters): string {
  const rows = journal.couponEnds.map((end) => [end.id, end.status, end.atMs]);
  const values = parameters.valuesList(rows, ['text', 'text', 'bigint']);
  return `coupons_ended AS (
    UPDATE coupons c SET status = d.status, ended_at_ms = d.at_ms
    FROM (VALUES ${values}) AS d(id, status, at_ms)
    WHERE c.id = d.id AND c.status = 'active'
    RETURNING c.id)`;
}

function reservedPart(journal: LedgerJournal, parameters: StatementParameters): string {
  const rows = journal.reservationInserts.map((row) => [
    row.requestId,
    row.tenantId,
    row.keyId,
    row.model,
    row.region,
    row.priceId,
    row.multiplierBps,
    row.reservedAmount,
    row.instanceId,
    row.promptTokensEstimate,
    row.admittedAtMs,
  ]);
  const arrays = parameters.columns(rows, [
    'text',
    'text',
    'text',
    'text',
    'text',
    'text',
    'integer',
    'bigint',
    'text',
    'integer',
    'bigint',
  ]);
  return `reserved AS (
    INSERT INTO reservations (request_id, tenant_id, key_id, model, region, price_id,
      multiplier_bps, reserved_amount, status, instance_id, backend_id, prompt_tokens_estimate,
      admitted_at_ms)
    SELECT request_id, tenant_id, key_id, model, region, price_id, multiplier_bps,
      reserved_amount, 'reserved', instance_id, NULL, prompt_tokens_estimate, admitted_at_ms
    FROM unnest(${arrays})
      AS d(request_id, tenant_id, key_id, model, region, price_id, multiplier_bps,
        reserved_amount, instance_id, prompt_tokens_estimate, admitted_at_ms))`;
}

function reservationsEndedPart(journal: LedgerJournal, parameters: StatementParameters): string {
  const rows = journal.reservationEnds.map((end) => [end.requestId, end.status, end.atMs]);
  const values = parameters.valuesList(rows, ['text', 'text', 'bigint']);
  return `reservations_ended AS (
    UPDATE reservations r SET status = d.status, ended_at_ms = d.at_ms
    FROM (VALUES ${values}) AS d(request_id, status, at_ms)
    WHERE r.request_id = d.request_id AND r.status = 'reserved'
    RETURNING r.request_id)`;
}

function usedPart(journal: LedgerJournal, parameters: StatementParameters): string {
  const arrays = parameters.columns(
    journal.usageInserts.map(usageRowValues),
    usageRowColumns.map((column) => usageColumnTypes[column]),
  );
  return `used AS (
    INSERT INTO usage_records (${usageRowColumns.join(', ')})
    SELECT ${usageSelected}
    FROM unnest(${arrays}) AS d(${usageRowColumns.join(', ')}))`;
}

/** 'written', or a failed cast naming what was refused when a guarded part is short. */
function verdictOf(guarded: readonly GuardedPart[]): string {
  if (guarded.length === 0) {
    return `'written'`;
  }
  const complete = guarded.map((part) => `${part.name} = ${part.expected}`).join(' AND ');
  const balances = guarded.find((part) => part.name === 'balanced');
  const marker =
    balances === undefined
      ? `'${rowsRefused}'`
      : `CASE WHEN balanced = ${balances.expected} THEN '${rowsRefused}' ELSE '${guardRefused}' END`;
  const counts = guarded
    .map((part) => `${part.name} || ' of ${part.expected} ${part.what}'`)
    .join(` || ', ' || `);
  return `CASE WHEN ${complete} THEN 'written'
    ELSE ((${marker}) || ': ' || ${counts})::integer::text END`;
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
  include(couponEnds.length > 0, () => couponsEndedPart(journal, parameters), {
    name: 'coupons_ended',
    expected: couponEnds.length,
    what: 'coupon ends',
  });
  include(journal.reservationInserts.length > 0, () => reservedPart(journal, parameters));
  include(reservationEnds.length > 0, () => reservationsEndedPart(journal, parameters), {
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
 * The statement's refusal as an error of the ledger: InsufficientFundsError when a balance guard
 * refused (what the store's guard stands for), a plain Error when a coupon or reservation to end
 * was not active; undefined for any other error.
 */
export function journalRefusalOf(error: unknown): Error | undefined {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code !== '22P02' || typeof message !== 'string') {
    return undefined;
  }
  if (message.includes(guardRefused)) {
    return new InsufficientFundsError(message, { cause: error });
  }
  return message.includes(rowsRefused) ? new Error(message, { cause: error }) : undefined;
}

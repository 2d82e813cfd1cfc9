/**
 * The SQL of one transaction's payers (Ledger.transactionPayers); billing turns the rows into
 * payers (billing/paid-by.ts). One row per posted transfer out of a wallet or a coupon, in the
 * order they were written, with the coupon's kind; a single row without a transfer when the
 * transaction took nothing from them; no row when no transaction has the key (`@key`).
 * PostgreSQL reads its tables; SQLite (the Node store and the Durable Objects) reads the lean
 * journal's records directly, because its views derive a request's key and transfers from every
 * record, which no index serves (DESIGN.md §4, drizzle/0012_lean_journal.sql).
 */

/** The transfer matched when it is posted out of a wallet or a coupon (`debit`: its account). */
const paidFromTenant = (debit: string) => `EXISTS (SELECT 1 FROM accounts a
      WHERE a.id = ${debit} AND a.kind IN ('wallet', 'coupon'))`;

/** Each payer row with its coupon's kind, from `payments (id, debit, amount)`. */
const withCouponKind = `SELECT p.debit AS debit, p.amount AS amount, c.kind AS coupon_kind
  FROM payments p
  LEFT JOIN coupons c ON p.debit LIKE 'coupon:%' AND c.id = substr(p.debit, 8)
  ORDER BY p.id`;

export const transactionPayersQuery = `WITH payments AS (
    SELECT t.id AS id, t.debit_account_id AS debit, t.amount AS amount
    FROM ledger_transactions x
    LEFT JOIN transfers t ON t.transaction_id = x.id AND t.flag = 'posted'
      AND ${paidFromTenant('t.debit_account_id')}
    WHERE x.idempotency_key = @key)
  ${withCouponKind}`;

/** A request's key is `<kind>:<request id>` (billing/reserve-operation.ts, settle-operation.ts). */
const kindOfKey = `substr(@key, 1, instr(@key, ':') - 1)`;
const requestIdOfKey = `substr(@key, instr(@key, ':') + 1)`;

/**
 * The same rows on SQLite, found by primary key: a transaction kept in full, or the `reserve:`
 * transaction of a reservation (its transfers are pending holds, never a payment: one row
 * without a transfer), or the `settle:`/`release:` transaction of a usage record with its
 * transfers `[[debit, credit, amount, flag, pending id], ...]`, the n-th numbered
 * first_transfer_id + n.
 */
export const sqliteTransactionPayersQuery = `WITH payments AS (
    SELECT t.id AS id, t.debit_account_id AS debit, t.amount AS amount
    FROM journal_transactions x
    LEFT JOIN journal_transfers t ON t.transaction_id = x.id AND t.flag = 'posted'
      AND ${paidFromTenant('t.debit_account_id')}
    WHERE x.idempotency_key = @key
    UNION ALL
    SELECT NULL, NULL, NULL FROM reservations r
    WHERE r.request_id = ${requestIdOfKey} AND ${kindOfKey} = 'reserve'
      AND r.transaction_id IS NOT NULL
    UNION ALL
    SELECT u.first_transfer_id + moved.key, json_extract(moved.value, '$[0]'),
      json_extract(moved.value, '$[2]')
    FROM usage_records u
    LEFT JOIN json_each(u.transfers) moved ON json_extract(moved.value, '$[3]') = 'posted'
      AND ${paidFromTenant(`json_extract(moved.value, '$[0]')`)}
    WHERE u.request_id = ${requestIdOfKey} AND u.transaction_kind = ${kindOfKey}
      AND u.transaction_id IS NOT NULL)
  ${withCouponKind}`;

/**
 * The SQL of one transaction's payers (Ledger.transactionPayers), written once in the dialect
 * SQLite and PostgreSQL share; billing turns the rows into payers (billing/paid-by.ts). One row
 * per posted transfer out of a wallet or a coupon, in the order they were written, with the
 * coupon's kind; a single row without a transfer when the transaction took nothing from them;
 * no row when no transaction has the key (`@key`).
 */
export const transactionPayersQuery = `SELECT t.debit_account_id AS debit, t.amount AS amount,
    c.kind AS coupon_kind
  FROM ledger_transactions x
  LEFT JOIN transfers t ON t.transaction_id = x.id AND t.flag = 'posted'
    AND EXISTS (SELECT 1 FROM accounts a
      WHERE a.id = t.debit_account_id AND a.kind IN ('wallet', 'coupon'))
  LEFT JOIN coupons c ON t.debit_account_id LIKE 'coupon:%'
    AND c.id = substr(t.debit_account_id, 8)
  WHERE x.idempotency_key = @key
  ORDER BY t.id`;

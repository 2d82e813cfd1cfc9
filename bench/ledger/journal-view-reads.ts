/**
 * A tenant's newest entries read through the lean journal's views, as the SQLite ledger read
 * them before db/entry-queries.ts: the answer the index-friendly read must give (its test) and
 * the time it is measured against (ledger-reads-bench.ts). Parameters: `@tenantId`, `@limit`.
 */
export const entriesThroughViewsQuery = `SELECT t.transaction_id AS transactionId, x.kind,
    x.request_id AS requestId, x.reference, t.debit_account_id AS debitAccountId,
    t.credit_account_id AS creditAccountId, t.amount, t.flag, t.created_at_ms AS createdAtMs
  FROM ledger_transactions x JOIN transfers t ON t.transaction_id = x.id
  WHERE x.tenant_id = @tenantId
    AND (t.debit_account_id IN (SELECT id FROM accounts WHERE owner_id = @tenantId)
      OR t.credit_account_id IN (SELECT id FROM accounts WHERE owner_id = @tenantId))
  ORDER BY t.id DESC LIMIT @limit`;

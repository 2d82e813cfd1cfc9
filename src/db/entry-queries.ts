/**
 * The SQL of a tenant's newest ledger entries (Ledger.entries) on SQLite, shared by the Node
 * store and the Durable Objects. The lean journal's views derive every record's transaction and
 * transfers, so filtering them by tenant read every reservation; this reads the rows kept in
 * full by the tenant's index, and a request's transaction and transfers from its records: its
 * usage records by the tenant's index, its reservations by primary key, found through those
 * usage records (a reservation ends only with its usage record, written in the same unit:
 * billing/settle-operation.ts) or among the open ones (the index of open reservations).
 * Parameters: `@tenantId`, `@limit`. Columns as the views give them; `amountAsText` reads
 * amounts as decimal text, for a driver that would read them as a float.
 */

/** One entry per transfer: the rows kept in full, then the reservations' and usage records'. */
const tenantTransfers = `SELECT t.id AS id, t.transaction_id AS transactionId, x.kind AS kind,
      x.request_id AS requestId, x.reference AS reference, t.debit_account_id AS debitAccountId,
      t.credit_account_id AS creditAccountId, t.amount AS amount, t.flag AS flag,
      t.created_at_ms AS createdAtMs
    FROM journal_transactions x JOIN journal_transfers t ON t.transaction_id = x.id
    WHERE x.tenant_id = @tenantId
    UNION ALL
    SELECT r.first_transfer_id + leg.key, r.transaction_id, 'reserve', r.request_id, NULL,
      json_extract(leg.value, '$[0]'), 'holds', json_extract(leg.value, '$[1]'), 'pending',
      r.admitted_at_ms
    FROM tenant_requests q JOIN reservations r ON r.request_id = q.request_id,
      json_each(r.legs) leg
    WHERE r.tenant_id = @tenantId AND r.transaction_id IS NOT NULL AND r.legs IS NOT NULL
    UNION ALL
    SELECT u.first_transfer_id + moved.key, u.transaction_id, u.transaction_kind, u.request_id,
      NULL, json_extract(moved.value, '$[0]'), json_extract(moved.value, '$[1]'),
      json_extract(moved.value, '$[2]'), json_extract(moved.value, '$[3]'), u.settled_at_ms
    FROM usage_records u, json_each(u.transfers) moved
    WHERE u.tenant_id = @tenantId AND u.transaction_id IS NOT NULL AND u.transfers IS NOT NULL`;

export function sqliteTenantEntriesQuery(amountAsText: boolean): string {
  const amount = amountAsText ? 'CAST(e.amount AS TEXT)' : 'e.amount';
  return `WITH tenant_requests AS (
      SELECT request_id FROM usage_records WHERE tenant_id = @tenantId
      UNION
      SELECT request_id FROM reservations WHERE status = 'reserved' AND tenant_id = @tenantId),
    tenant_entries AS (${tenantTransfers})
  SELECT e.transactionId, e.kind, e.requestId, e.reference, e.debitAccountId,
    e.creditAccountId, ${amount} AS amount, e.flag, e.createdAtMs
  FROM tenant_entries e
  WHERE e.debitAccountId IN (SELECT id FROM accounts WHERE owner_id = @tenantId)
    OR e.creditAccountId IN (SELECT id FROM accounts WHERE owner_id = @tenantId)
  ORDER BY e.id DESC LIMIT @limit`;
}

/**
 * The SQL of the ledger check (DESIGN.md §4 invariants), written once in the dialect SQLite and
 * PostgreSQL share. Billing turns the rows into problems (billing/ledger-check.ts) and never sees
 * this text; a store runs these queries inside one consistent snapshot.
 */

const resolvedHolds = 'SELECT pending_id FROM transfers WHERE pending_id IS NOT NULL';

const mismatchedAccounts = `
  WITH sides AS (
    SELECT debit_account_id AS id,
      CASE WHEN flag IN ('posted', 'post_pending') THEN amount ELSE 0 END AS debits_posted,
      CAST(0 AS BIGINT) AS credits_posted,
      CASE WHEN flag = 'pending' AND id NOT IN (${resolvedHolds}) THEN amount ELSE 0 END
        AS debits_pending,
      CAST(0 AS BIGINT) AS credits_pending
    FROM transfers
    UNION ALL
    SELECT credit_account_id, 0,
      CASE WHEN flag IN ('posted', 'post_pending') THEN amount ELSE 0 END,
      0,
      CASE WHEN flag = 'pending' AND id NOT IN (${resolvedHolds}) THEN amount ELSE 0 END
    FROM transfers),
  totals AS (
    SELECT id, SUM(debits_posted) AS debits_posted, SUM(credits_posted) AS credits_posted,
      SUM(debits_pending) AS debits_pending, SUM(credits_pending) AS credits_pending
    FROM sides GROUP BY id)
  SELECT a.id FROM accounts a LEFT JOIN totals t ON t.id = a.id
  WHERE a.debits_posted != COALESCE(t.debits_posted, 0)
     OR a.credits_posted != COALESCE(t.credits_posted, 0)
     OR a.debits_pending != COALESCE(t.debits_pending, 0)
     OR a.credits_pending != COALESCE(t.credits_pending, 0)`;

// A provider's payable has no guard in the stores (settlements only credit it), but a payout
// must never take it below zero either.
const overdrawnAccounts = `SELECT id FROM accounts
  WHERE (no_overdraft = TRUE OR kind = 'provider_payable')
    AND credits_posted - debits_posted - debits_pending < 0`;

const globalTotals = `SELECT COALESCE(SUM(debits_posted), 0) AS dp,
  COALESCE(SUM(credits_posted), 0) AS cp, COALESCE(SUM(debits_pending), 0) AS dq,
  COALESCE(SUM(credits_pending), 0) AS cq FROM accounts`;

// Each query reads the transfers once (no subquery per row): on SQLite the transfers of a
// request are derived from its records by a view (the lean journal), which a correlated subquery
// would expand again for every row.

/** Per settle transaction (by request): what it moved into holds, and of that from write_off. */
const settleCollections = `WITH moved AS (SELECT transaction_id,
      SUM(CASE WHEN flag IN ('posted', 'post_pending') THEN amount ELSE 0 END) AS collected,
      SUM(CASE WHEN flag IN ('posted', 'post_pending') AND debit_account_id = 'write_off'
        THEN amount ELSE 0 END) AS written_off
    FROM transfers WHERE credit_account_id = 'holds' GROUP BY transaction_id)
  SELECT CAST(substr(x.idempotency_key, 8) AS TEXT) AS request_id, COALESCE(m.collected, 0) AS collected,
    COALESCE(m.written_off, 0) AS written_off
  FROM ledger_transactions x LEFT JOIN moved m ON m.transaction_id = x.id
  WHERE substr(x.idempotency_key, 1, 7) = 'settle:'`;

const settledPayments = `WITH settles AS (${settleCollections})
  SELECT u.request_id AS request_id, u.cost AS cost, COALESCE(s.collected, 0) AS collected
  FROM usage_records u LEFT JOIN settles s ON s.request_id = u.request_id
  WHERE u.cost > 0 OR s.request_id IS NOT NULL`;

// Only a share above zero can exceed the payout rate applied to what was collected: the rate in
// force when the request was admitted (its record's time), the provider's first before any version.
const providerShares = `WITH settles AS (${settleCollections})
  SELECT u.request_id AS request_id, u.cost AS cost,
  u.provider_share AS provider_share, COALESCE((SELECT r.payout_bps FROM provider_payout_rates r
    WHERE r.provider_id = u.provider_id AND r.effective_at_ms <= u.created_at_ms
    ORDER BY r.effective_at_ms DESC, r.version DESC LIMIT 1), p.payout_bps, 0) AS payout_bps,
  COALESCE(s.written_off, 0) AS written_off
  FROM usage_records u LEFT JOIN providers p ON p.id = u.provider_id
  LEFT JOIN settles s ON s.request_id = u.request_id
  WHERE u.provider_share > 0`;

const endedWithHolds = `SELECT r.request_id AS request_id FROM reservations r
  JOIN ledger_transactions x ON x.idempotency_key = 'reserve:' || r.request_id
  JOIN transfers t ON t.transaction_id = x.id AND t.flag = 'pending'
  WHERE r.status != 'reserved' AND t.id NOT IN (${resolvedHolds})`;

// A grant that ended passes on what is not held at once, and what is held when it is freed: the
// waterfall may rely on an ended grant having nothing available.
const endedGrantsWithMoney = `SELECT c.id AS id FROM coupons c
  JOIN accounts a ON a.id = 'coupon:' || c.id
  WHERE c.status != 'active' AND a.credits_posted - a.debits_posted - a.debits_pending != 0`;

const breakageBalance = `SELECT COALESCE(SUM(credits_posted - debits_posted), 0) AS balance
  FROM accounts WHERE id = 'breakage'`;

// One row per transfer of a transaction of these kinds (one without transfers once, with nulls),
// with the coupon a transfer debits when it is one (found by its id, 'coupon:' being 7
// characters): billing/checked-transactions.ts reads them.
const transactionTransfers = (kinds: string) => `SELECT x.idempotency_key AS idempotency_key,
  x.kind AS kind, x.tenant_id AS tenant_id, x.reference AS reference, x.amount AS amount,
  t.id AS transfer_id, t.debit_account_id AS debit, t.credit_account_id AS credit, t.flag AS flag,
  t.amount AS transfer_amount, c.tenant_id AS coupon_tenant_id, c.kind AS coupon_kind,
  c.coverage_bps AS coupon_coverage_bps, c.status AS coupon_status
  FROM ledger_transactions x
  LEFT JOIN transfers t ON t.transaction_id = x.id
  LEFT JOIN coupons c ON t.debit_account_id LIKE 'coupon:%'
    AND c.id = substr(t.debit_account_id, 8)
  WHERE x.kind IN (${kinds})`;

// Storage ticks: billing/storage-check.ts judges them.
const storageCharges = transactionTransfers(`'storage', 'storage_unpaid'`);

// Lease charges and ends, with the records of the leases they name (one row per leased backend):
// billing/lease-check.ts judges them.
const leaseCharges = transactionTransfers(`'lease', 'lease_end'`);

const leaseRecords = `SELECT l.id AS lease_id, l.tenant_id AS tenant_id,
  l.accelerators AS accelerators, l.hours AS hours, l.card_hour AS card_hour, l.cost AS cost,
  l.starts_at_ms AS starts_at_ms, l.ends_at_ms AS ends_at_ms, l.ended_at_ms AS ended_at_ms,
  b.backend_id AS backend_id, b.provider_id AS provider_id,
  b.accelerators AS backend_accelerators, b.failed_at_ms AS failed_at_ms
  FROM leases l LEFT JOIN lease_backends b ON b.lease_id = l.id
  WHERE l.id IN (SELECT reference FROM ledger_transactions
    WHERE kind IN ('lease', 'lease_end') AND reference IS NOT NULL)`;

const counts = `SELECT (SELECT COUNT(*) FROM accounts) AS accounts,
  (SELECT COUNT(*) FROM ledger_transactions) AS transactions`;

/** Each query of the check by the name billing asks for it (billing's LedgerCheckQueryName). */
export const ledgerCheckQueries = {
  mismatchedAccounts,
  overdrawnAccounts,
  globalTotals,
  settledPayments,
  providerShares,
  endedWithHolds,
  endedGrantsWithMoney,
  breakageBalance,
  counts,
  storageCharges,
  leaseCharges,
  leaseRecords,
} as const;

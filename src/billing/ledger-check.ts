/**
 * The ledger check (DESIGN.md §4 invariants), as every store runs it: each balance recomputed
 * from the transfers, no guarded account overdrawn, global debits equal to credits, every
 * settled request paid exactly its cost, no hold left on a request that ended, and no ended grant
 * with money still available. The SQL is written once, in the dialect SQLite and PostgreSQL
 * share; a store runs it inside one consistent snapshot.
 */
import type { LedgerCheck } from './ledger.ts';

/** Runs one read-only query in the store's snapshot. */
export type CheckQuery = (sql: string) => Promise<Record<string, unknown>[]>;

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

const overdrawnAccounts = `SELECT id FROM accounts
  WHERE no_overdraft = TRUE AND credits_posted - debits_posted - debits_pending < 0`;

const globalTotals = `SELECT COALESCE(SUM(debits_posted), 0) AS dp,
  COALESCE(SUM(credits_posted), 0) AS cp, COALESCE(SUM(debits_pending), 0) AS dq,
  COALESCE(SUM(credits_pending), 0) AS cq FROM accounts`;

const settledPayments = `SELECT u.request_id AS request_id, u.cost AS cost,
  COALESCE((SELECT SUM(t.amount) FROM transfers t
    JOIN ledger_transactions x ON x.id = t.transaction_id
    WHERE x.idempotency_key = 'settle:' || u.request_id AND t.credit_account_id = 'holds'
      AND t.flag IN ('posted', 'post_pending')), 0) AS collected
  FROM usage_records u WHERE u.cost > 0 OR EXISTS (
    SELECT 1 FROM ledger_transactions x WHERE x.idempotency_key = 'settle:' || u.request_id)`;

const endedWithHolds = `SELECT r.request_id AS request_id FROM reservations r
  JOIN ledger_transactions x ON x.idempotency_key = 'reserve:' || r.request_id
  JOIN transfers t ON t.transaction_id = x.id AND t.flag = 'pending'
  WHERE r.status != 'reserved' AND NOT EXISTS (SELECT 1 FROM transfers p WHERE p.pending_id = t.id)`;

// A grant that ended passes on what is not held at once, and what is held when it is freed: the
// waterfall may rely on an ended grant having nothing available.
const endedGrantsWithMoney = `SELECT c.id AS id FROM coupons c
  JOIN accounts a ON a.id = 'coupon:' || c.id
  WHERE c.status != 'active' AND a.credits_posted - a.debits_posted - a.debits_pending != 0`;

const counts = `SELECT (SELECT COUNT(*) FROM accounts) AS accounts,
  (SELECT COUNT(*) FROM ledger_transactions) AS transactions`;

/** Money and counts come back as bigint (SQLite), text (PostgreSQL's int8) or small numbers. */
function integerValue(value: unknown): bigint {
  return typeof value === 'bigint' ? value : BigInt(String(value ?? 0));
}

export async function checkLedger(query: CheckQuery): Promise<LedgerCheck> {
  const problems: string[] = [];
  for (const row of await query(mismatchedAccounts)) {
    problems.push(`account ${String(row.id)}: stored totals differ from its transfers`);
  }
  for (const row of await query(overdrawnAccounts)) {
    problems.push(`account ${String(row.id)} is overdrawn`);
  }
  const [totals] = await query(globalTotals);
  if (
    totals &&
    (integerValue(totals.dp) !== integerValue(totals.cp) ||
      integerValue(totals.dq) !== integerValue(totals.cq))
  ) {
    problems.push('global debits and credits differ');
  }
  for (const row of await query(settledPayments)) {
    const collected = integerValue(row.collected);
    const cost = integerValue(row.cost);
    if (collected !== cost) {
      problems.push(`request ${String(row.request_id)}: paid ${collected} for a cost of ${cost}`);
    }
  }
  for (const row of await query(endedWithHolds)) {
    problems.push(`request ${String(row.request_id)} ended with a hold still open`);
  }
  for (const row of await query(endedGrantsWithMoney)) {
    problems.push(`coupon ${String(row.id)} ended with money still available`);
  }
  const [counted] = await query(counts);
  return {
    ok: problems.length === 0,
    // Stores list rows in different orders; the report reads the same from either.
    problems: problems.sort(),
    accounts: Number(integerValue(counted?.accounts)),
    transactions: Number(integerValue(counted?.transactions)),
  };
}

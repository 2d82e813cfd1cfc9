/**
 * What the SQLite ledger answers: a tenant's money, usage and entries, a provider's earnings, a
 * subsidy program's statement, and the ledger check that recomputes every balance from the
 * transfers and verifies the invariants of DESIGN.md §4.
 */
import type Database from 'better-sqlite3';
import type { Ledger, LedgerEntry, UsageRecord } from '../../billing/ledger.ts';
import type { CouponRows } from './sqlite-coupon-rows.ts';
import { parsePaidBy, storedAmountMicro } from './sqlite-reservations.ts';

type ReadsOptions = {
  connection: Database.Database;
  coupons: CouponRows;
  walletAvailable: (tenantId: string) => bigint;
};

type Reads = Pick<
  Ledger,
  | 'tenantMoney'
  | 'coupon'
  | 'usage'
  | 'entries'
  | 'earnings'
  | 'programStatement'
  | 'recordVerification'
  | 'check'
>;

const usageColumns = `request_id AS requestId, created_at_ms AS createdAtMs, tenant_id AS tenantId,
  key_id AS keyId, model, region, backend_id AS backendId, provider_id AS providerId,
  input_tokens AS inputTokens, cached_input_tokens AS cachedInputTokens,
  output_tokens AS outputTokens, reasoning_tokens AS reasoningTokens, usage_source AS usageSource,
  outcome, cost, paid_by AS paidBy, verified_output_tokens AS verifiedOutputTokens`;

/** Money columns stay bigint; counts and times come back as numbers. */
function numberOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

function toUsageRecord(row: Record<string, unknown>): UsageRecord {
  return {
    requestId: String(row.requestId),
    createdAtMs: Number(row.createdAtMs),
    tenantId: String(row.tenantId),
    keyId: String(row.keyId),
    model: String(row.model),
    region: (row.region as string | null) ?? null,
    backendId: (row.backendId as string | null) ?? null,
    providerId: (row.providerId as string | null) ?? null,
    inputTokens: numberOrNull(row.inputTokens),
    cachedInputTokens: numberOrNull(row.cachedInputTokens),
    outputTokens: numberOrNull(row.outputTokens),
    reasoningTokens: numberOrNull(row.reasoningTokens),
    usageSource: (row.usageSource as UsageRecord['usageSource']) ?? null,
    outcome: row.outcome as UsageRecord['outcome'],
    costMicro: row.cost as bigint,
    paidBy: parsePaidBy(String(row.paidBy)),
    verifiedOutputTokens: numberOrNull(row.verifiedOutputTokens),
  };
}

export function createLedgerReads(options: ReadsOptions): Reads {
  const { connection, coupons, walletAvailable } = options;
  const statements = {
    holds: connection
      .prepare(
        `SELECT COALESCE(SUM(debits_pending), 0) AS held FROM accounts
         WHERE owner_id = ? AND kind IN ('wallet', 'coupon')`,
      )
      .safeIntegers(true),
    usage: connection
      .prepare(
        `SELECT ${usageColumns} FROM usage_records
         WHERE tenant_id = ? AND created_at_ms >= ? AND created_at_ms < ? ORDER BY created_at_ms, request_id`,
      )
      .safeIntegers(true),
    entries: connection
      .prepare(
        `SELECT t.transaction_id AS transactionId, x.kind, x.request_id AS requestId, x.reference,
           t.debit_account_id AS debitAccountId, t.credit_account_id AS creditAccountId, t.amount, t.flag,
           t.created_at_ms AS createdAtMs
         FROM ledger_transactions x JOIN transfers t ON t.transaction_id = x.id
         WHERE x.tenant_id = @tenantId
           AND (t.debit_account_id IN (SELECT id FROM accounts WHERE owner_id = @tenantId)
             OR t.credit_account_id IN (SELECT id FROM accounts WHERE owner_id = @tenantId))
         ORDER BY t.id DESC LIMIT @limit`,
      )
      .safeIntegers(true),
    earnings: connection
      .prepare(
        `SELECT backend_id AS backendId, model, COUNT(*) AS requests,
           COALESCE(SUM(input_tokens), 0) AS inputTokens, COALESCE(SUM(output_tokens), 0) AS outputTokens,
           COALESCE(SUM(provider_share), 0) AS earned
         FROM usage_records WHERE provider_id = ? AND created_at_ms >= ? AND created_at_ms < ?
           AND outcome != 'rejected'
         GROUP BY backend_id, model ORDER BY backend_id, model`,
      )
      .safeIntegers(true),
    programStatement: connection
      .prepare(
        `SELECT u.request_id AS requestId, u.created_at_ms AS createdAtMs, u.tenant_id AS tenantId,
           c.id AS couponId, u.model, u.provider_id AS providerId, u.input_tokens AS inputTokens,
           u.output_tokens AS outputTokens, json_extract(p.value, '$.amount') AS amount
         FROM usage_records u, json_each(u.paid_by) p
         JOIN coupons c ON c.id = json_extract(p.value, '$.id')
         WHERE json_extract(p.value, '$.source') = 'coupon' AND c.program = @program
           AND u.created_at_ms >= @fromMs AND u.created_at_ms < @toMs
           AND (@tenantId IS NULL OR u.tenant_id = @tenantId)
         ORDER BY u.created_at_ms, u.request_id`,
      )
      .safeIntegers(true),
    recordVerification: connection.prepare(
      'UPDATE usage_records SET verified_output_tokens = ? WHERE request_id = ?',
    ),
  };
  return {
    tenantMoney: async (tenantId) => ({
      walletBalanceMicro: walletAvailable(tenantId),
      holdsMicro: (statements.holds.get(tenantId) as { held: bigint }).held,
      coupons: coupons.ofTenant(tenantId),
    }),
    coupon: async (couponId) => coupons.byId(couponId),
    usage: async (tenantId, range) =>
      (statements.usage.all(tenantId, range.fromMs, range.toMs) as Record<string, unknown>[]).map(
        toUsageRecord,
      ),
    entries: async (tenantId, limit) =>
      (statements.entries.all({ tenantId, limit }) as Record<string, unknown>[]).map(
        (row): LedgerEntry => ({
          transactionId: Number(row.transactionId),
          kind: String(row.kind),
          requestId: (row.requestId as string | null) ?? null,
          reference: (row.reference as string | null) ?? null,
          debitAccountId: String(row.debitAccountId),
          creditAccountId: String(row.creditAccountId),
          amountMicro: row.amount as bigint,
          flag: row.flag as LedgerEntry['flag'],
          createdAtMs: Number(row.createdAtMs),
        }),
      ),
    earnings: async (providerId, range) =>
      (
        statements.earnings.all(providerId, range.fromMs, range.toMs) as Record<string, unknown>[]
      ).map((row) => ({
        backendId: String(row.backendId),
        model: String(row.model),
        requests: Number(row.requests),
        inputTokens: Number(row.inputTokens),
        outputTokens: Number(row.outputTokens),
        earnedMicro: row.earned as bigint,
      })),
    programStatement: async (program, range, tenantId) =>
      (
        statements.programStatement.all({
          program,
          ...range,
          tenantId: tenantId ?? null,
        }) as Record<string, unknown>[]
      ).map((row) => ({
        requestId: String(row.requestId),
        createdAtMs: Number(row.createdAtMs),
        tenantId: String(row.tenantId),
        couponId: String(row.couponId),
        model: String(row.model),
        providerId: (row.providerId as string | null) ?? null,
        inputTokens: numberOrNull(row.inputTokens),
        outputTokens: numberOrNull(row.outputTokens),
        amountMicro: storedAmountMicro(String(row.amount)),
      })),
    recordVerification: async (requestId, recountedOutputTokens) => {
      statements.recordVerification.run(recountedOutputTokens, requestId);
    },
    check: async () => checkLedger(connection),
  };
}

/** Recomputes every balance from transfers and checks the invariants; lists what is wrong. */
function checkLedger(connection: Database.Database) {
  const problems: string[] = [];
  const query = (sql: string) =>
    connection.prepare(sql).safeIntegers(true).all() as Record<string, unknown>[];
  const mismatched = query(`
    WITH resolved AS (SELECT pending_id FROM transfers WHERE pending_id IS NOT NULL),
    sides AS (
      SELECT debit_account_id AS id,
        CASE WHEN flag IN ('posted', 'post_pending') THEN amount ELSE 0 END AS debits_posted,
        0 AS credits_posted,
        CASE WHEN flag = 'pending' AND id NOT IN resolved THEN amount ELSE 0 END AS debits_pending,
        0 AS credits_pending
      FROM transfers
      UNION ALL
      SELECT credit_account_id,
        0,
        CASE WHEN flag IN ('posted', 'post_pending') THEN amount ELSE 0 END,
        0,
        CASE WHEN flag = 'pending' AND id NOT IN resolved THEN amount ELSE 0 END
      FROM transfers),
    totals AS (
      SELECT id, SUM(debits_posted) AS debits_posted, SUM(credits_posted) AS credits_posted,
        SUM(debits_pending) AS debits_pending, SUM(credits_pending) AS credits_pending
      FROM sides GROUP BY id),
    recomputed AS (
      SELECT a.id, COALESCE(t.debits_posted, 0) AS debits_posted, COALESCE(t.credits_posted, 0) AS credits_posted,
        COALESCE(t.debits_pending, 0) AS debits_pending, COALESCE(t.credits_pending, 0) AS credits_pending
      FROM accounts a LEFT JOIN totals t ON t.id = a.id)
    SELECT a.id FROM accounts a JOIN recomputed r ON r.id = a.id
    WHERE a.debits_posted != r.debits_posted OR a.credits_posted != r.credits_posted
       OR a.debits_pending != r.debits_pending OR a.credits_pending != r.credits_pending`);
  for (const row of mismatched) {
    problems.push(`account ${String(row.id)}: stored totals differ from its transfers`);
  }
  for (const row of query(
    `SELECT id FROM accounts WHERE no_overdraft = 1 AND credits_posted - debits_posted - debits_pending < 0`,
  )) {
    problems.push(`account ${String(row.id)} is overdrawn`);
  }
  const [totals] = query(
    `SELECT SUM(debits_posted) AS dp, SUM(credits_posted) AS cp, SUM(debits_pending) AS dq, SUM(credits_pending) AS cq FROM accounts`,
  );
  if (totals && (totals.dp !== totals.cp || totals.dq !== totals.cq)) {
    problems.push('global debits and credits differ');
  }
  for (const row of query(
    `SELECT u.request_id AS requestId, u.cost, COALESCE((SELECT SUM(t.amount) FROM transfers t
        JOIN ledger_transactions x ON x.id = t.transaction_id
        WHERE x.idempotency_key = 'settle:' || u.request_id AND t.credit_account_id = 'holds'
          AND t.flag IN ('posted', 'post_pending')), 0) AS collected
     FROM usage_records u WHERE u.cost > 0 OR EXISTS (
       SELECT 1 FROM ledger_transactions x WHERE x.idempotency_key = 'settle:' || u.request_id)`,
  )) {
    if (row.collected !== row.cost) {
      problems.push(
        `request ${String(row.requestId)}: paid ${String(row.collected)} for a cost of ${String(row.cost)}`,
      );
    }
  }
  for (const row of query(
    `SELECT r.request_id AS requestId FROM reservations r
     JOIN ledger_transactions x ON x.idempotency_key = 'reserve:' || r.request_id
     JOIN transfers t ON t.transaction_id = x.id AND t.flag = 'pending'
     WHERE r.status != 'reserved' AND NOT EXISTS (SELECT 1 FROM transfers p WHERE p.pending_id = t.id)`,
  )) {
    problems.push(`request ${String(row.requestId)} ended with a hold still open`);
  }
  const [counts] = query(
    'SELECT (SELECT COUNT(*) FROM accounts) AS accounts, (SELECT COUNT(*) FROM ledger_transactions) AS transactions',
  );
  return {
    ok: problems.length === 0,
    problems,
    accounts: Number(counts?.accounts ?? 0),
    transactions: Number(counts?.transactions ?? 0),
  };
}

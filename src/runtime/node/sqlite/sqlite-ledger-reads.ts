/**
 * What the SQLite ledger answers: a tenant's money, usage, entries and adjustments, a
 * transaction's payers, a provider's earnings, payouts and balance, a subsidy program's
 * statement (its charges, or its figures reconciled with the ledger) and the list of programs,
 * and the ledger check that recomputes every balance from the transfers and verifies the
 * invariants of DESIGN.md §4.
 */
import type Database from 'better-sqlite3';
import type { LedgerEntry, LedgerReads, TimeRange } from '../../../billing/ledger.ts';
import { accountIds } from '../../../billing/ledger-accounts.ts';
import { checkLedger } from '../../../billing/ledger-check.ts';
import { payersOfRows, storedAmountMicro } from '../../../billing/paid-by.ts';
import {
  type ProgramFiguresQuery,
  readCouponFigures,
  readProgramFigures,
} from '../../../billing/program-figures.ts';
import { listPrograms, summarizeProgram } from '../../../billing/program-statement.ts';
import { pageBounds, statementPageBounds } from '../../../billing/usage-page.ts';
import { sqliteTenantEntriesQuery } from '../../../db/entry-queries.ts';
import { ledgerCheckQueries } from '../../../db/ledger-check-queries.ts';
import { columnList } from '../../../db/ledger-column.ts';
import { usageRecordColumns } from '../../../db/ledger-tables.ts';
import { sqliteTransactionPayersQuery } from '../../../db/payer-queries.ts';
import { programFiguresQueries, sqliteDialect } from '../../../db/program-figures-queries.ts';
import { sqliteProgramStatementQuery } from '../../../db/program-statement-query.ts';
import { usageProperties, usageRecordOf } from '../../ledger-row-codecs.ts';
import type { CouponRows } from './sqlite-coupon-rows.ts';

type ReadsOptions = {
  connection: Database.Database;
  coupons: CouponRows;
};

/** Money columns stay bigint; counts and times come back as numbers. */
function numberOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

const figureQueries = programFiguresQueries(sqliteDialect);

/** All of time: what the ledger check reconciles, and what the list of programs counts. */
const everything: TimeRange = { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER };

/** The operator's transactions of one provider or tenant, newest first (all kept in full). */
function operatorTransactionsStatement(connection: Database.Database, owner: string) {
  return connection
    .prepare(
      `SELECT id, ${owner} AS ownerId, amount, reference, memo, created_at_ms AS createdAtMs
       FROM journal_transactions WHERE ${owner} = ? AND kind = ? ORDER BY id DESC LIMIT ?`,
    )
    .safeIntegers(true);
}

type OperatorRow = {
  id: bigint;
  ownerId: string;
  amount: bigint;
  reference: string | null;
  memo: string | null;
  createdAtMs: bigint;
};

export function createLedgerReads(options: ReadsOptions): LedgerReads {
  const { connection, coupons } = options;
  const statements = {
    walletAvailable: connection
      .prepare('SELECT credits_posted - debits_posted - debits_pending FROM accounts WHERE id = ?')
      .pluck()
      .safeIntegers(true),
    holds: connection
      .prepare(
        `SELECT COALESCE(SUM(debits_pending), 0) AS held FROM accounts
         WHERE owner_id = ? AND kind IN ('wallet', 'coupon')`,
      )
      .safeIntegers(true),
    usage: connection
      .prepare(
        `SELECT ${columnList(usageRecordColumns, usageProperties)} FROM usage_records
         WHERE tenant_id = ? AND created_at_ms >= ? AND created_at_ms < ? ORDER BY created_at_ms, request_id`,
      )
      .safeIntegers(true),
    usagePage: connection
      .prepare(
        `SELECT ${columnList(usageRecordColumns, usageProperties)} FROM usage_records
         WHERE tenant_id = @tenantId AND created_at_ms >= @fromMs AND created_at_ms < @toMs
           AND (created_at_ms > @afterMs OR request_id > @afterId)
         ORDER BY created_at_ms, request_id LIMIT @limit`,
      )
      .safeIntegers(true),
    usageOfRequest: connection
      .prepare(
        `SELECT ${columnList(usageRecordColumns, usageProperties)} FROM usage_records WHERE request_id = ?`,
      )
      .safeIntegers(true),
    transactionPayers: connection.prepare(sqliteTransactionPayersQuery).safeIntegers(true),
    entries: connection.prepare(sqliteTenantEntriesQuery(false)).safeIntegers(true),
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
    // A provider's report: a scan of lease closings (kept in full), never on a request's path.
    leaseEarnings: connection
      .prepare(
        `SELECT x.reference AS leaseId, x.created_at_ms AS closedAtMs, SUM(t.amount) AS earned
         FROM journal_transactions x JOIN journal_transfers t ON t.transaction_id = x.id
         WHERE x.kind = 'lease_end' AND t.credit_account_id = 'provider_payable:' || ?
           AND x.created_at_ms >= ? AND x.created_at_ms < ?
         GROUP BY x.reference, x.created_at_ms ORDER BY x.created_at_ms, x.reference`,
      )
      .safeIntegers(true),
    programStatement: connection.prepare(sqliteProgramStatementQuery).safeIntegers(true),
    balance: connection
      .prepare(
        `SELECT credits_posted AS credits, debits_posted AS debits FROM accounts WHERE id = ?`,
      )
      .safeIntegers(true),
    payouts: operatorTransactionsStatement(connection, 'provider_id'),
    paidOut: connection
      .prepare(
        `SELECT COALESCE(SUM(amount), 0) FROM journal_transactions
         WHERE provider_id = ? AND kind = 'payout' AND created_at_ms >= ? AND created_at_ms < ?`,
      )
      .pluck()
      .safeIntegers(true),
    adjustments: operatorTransactionsStatement(connection, 'tenant_id'),
  };
  // The check's and the figures' queries read the journal's views, which makes compiling them
  // cost more than running them on a small ledger: each is prepared once.
  const preparedStatements = new Map<string, Database.Statement>();
  const preparedOnce = (sql: string): Database.Statement => {
    let statement = preparedStatements.get(sql);
    if (!statement) {
      statement = connection.prepare(sql).safeIntegers(true);
      preparedStatements.set(sql, statement);
    }
    return statement;
  };
  const figuresOf =
    (program: string | null, range: TimeRange): ProgramFiguresQuery =>
    async (name) =>
      preparedOnce(figureQueries[name]).all({
        program,
        fromMs: range.fromMs,
        toMs: range.toMs,
      }) as Record<string, unknown>[];
  /** Every query of `body` sees the same snapshot. */
  const inSnapshot = async <Result>(body: () => Promise<Result>): Promise<Result> => {
    connection.exec('BEGIN');
    try {
      return await body();
    } finally {
      connection.exec('COMMIT');
    }
  };
  const operatorRows = (
    statement: Database.Statement,
    ownerId: string,
    kind: string,
    limit: number,
  ) => statement.all(ownerId, kind, limit) as OperatorRow[];
  return {
    tenantMoney: async (tenantId) => ({
      walletBalanceMicro:
        (statements.walletAvailable.get(accountIds.wallet(tenantId)) as bigint | undefined) ?? 0n,
      holdsMicro: (statements.holds.get(tenantId) as { held: bigint }).held,
      coupons: coupons.ofTenantByCreation(tenantId),
    }),
    coupon: async (couponId) => coupons.byId(couponId),
    usage: async (tenantId, range, page) =>
      (
        (page === undefined
          ? statements.usage.all(tenantId, range.fromMs, range.toMs)
          : statements.usagePage.all({
              tenantId,
              ...pageBounds(range, page),
              limit: page.limit,
            })) as Record<string, unknown>[]
      ).map(usageRecordOf),
    usageOfRequest: async (requestId) => {
      const row = statements.usageOfRequest.get(requestId) as Record<string, unknown> | undefined;
      return row && usageRecordOf(row);
    },
    transactionPayers: async (idempotencyKey) =>
      payersOfRows(
        statements.transactionPayers.all({ key: idempotencyKey }) as Record<string, unknown>[],
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
    programStatement: async (program, range, tenantId, page) =>
      (
        statements.programStatement.all({
          program,
          ...statementPageBounds(range, page),
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
    programSummary: async (program, range, tenantId) =>
      inSnapshot(async () => {
        const set = await readProgramFigures(figuresOf(program, range));
        const granted = await readCouponFigures(figuresOf(program, everything));
        return granted.length === 0 ? undefined : summarizeProgram(program, range, set, tenantId);
      }),
    programs: async () => listPrograms(await readCouponFigures(figuresOf(null, everything))),
    // One read transaction: every query of the check sees the same snapshot.
    check: async () =>
      inSnapshot(() =>
        checkLedger(
          async (name) => preparedOnce(ledgerCheckQueries[name]).all() as Record<string, unknown>[],
          () => readProgramFigures(figuresOf(null, everything)),
        ),
      ),
    payouts: async (providerId, limit) =>
      operatorRows(statements.payouts, providerId, 'payout', limit).map((row) => ({
        transactionId: Number(row.id),
        providerId: row.ownerId,
        amountMicro: row.amount,
        reference: row.reference ?? '',
        note: row.memo,
        createdAtMs: Number(row.createdAtMs),
      })),
    providerBalance: async (providerId) => {
      const row = statements.balance.get(accountIds.providerPayable(providerId)) as
        | { credits: bigint; debits: bigint }
        | undefined;
      const earnedMicro = row?.credits ?? 0n;
      const paidMicro = row?.debits ?? 0n;
      return { earnedMicro, paidMicro, unpaidMicro: earnedMicro - paidMicro };
    },
    leaseEarnings: async (providerId, range) =>
      (
        statements.leaseEarnings.all(providerId, range.fromMs, range.toMs) as Record<
          string,
          unknown
        >[]
      ).map((row) => ({
        leaseId: String(row.leaseId),
        closedAtMs: Number(row.closedAtMs),
        earnedMicro: BigInt(row.earned as bigint),
      })),
    paidOut: async (providerId, range) =>
      statements.paidOut.get(providerId, range.fromMs, range.toMs) as bigint,
    adjustments: async (tenantId, limit) =>
      operatorRows(statements.adjustments, tenantId, 'adjustment', limit).map((row) => ({
        transactionId: Number(row.id),
        tenantId: row.ownerId,
        amountMicro: row.amount,
        reason: row.memo ?? '',
        reference: row.reference ?? '',
        createdAtMs: Number(row.createdAtMs),
      })),
  };
}

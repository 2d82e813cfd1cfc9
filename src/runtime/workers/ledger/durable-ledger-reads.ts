/**
 * What the Durable Object ledger answers without moving money: a tenant's money and usage, a
 * provider's earnings, payouts and balance, the programs' statements and the ledger check. The
 * check and the program figures are the SQL shared with the Node stores (db/ledger-check-queries.ts,
 * db/program-figures-queries.ts); the rest are this store's own short reads. Every read is a
 * synchronous storage call and the object delivers no other event between them (awaiting a settled
 * promise only runs microtasks), so the reads of one answer see one state. On Workers these cover the accounts of one object, so one
 * tenant's part of the ledger (DEPLOY.md, "Cloudflare Workers").
 */
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
import { sqliteTransactionPayersQuery } from '../../../db/payer-queries.ts';
import { programFiguresQueries, sqliteDialect } from '../../../db/program-figures-queries.ts';
import { sqliteProgramStatementQuery } from '../../../db/program-statement-query.ts';
import { usageRecordOf } from '../../ledger-row-codecs.ts';
import { type DurableSql, positional, type SqlParameter, type SqlRow } from '../durable-sql.ts';
import type { DurableLedgerRows } from './durable-ledger-rows.ts';
import { usageSelect } from './durable-ledger-rows.ts';
import {
  earningsRowOf,
  providerEarningsParameters,
  providerEarningsQuery,
} from './provider-earnings-query.ts';

const figureQueries = programFiguresQueries(sqliteDialect);
const everything: TimeRange = { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER };

const micro = (value: unknown): bigint => BigInt(String(value));
const numberOrNull = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);
const textOrNull = (value: unknown): string | null =>
  value === null || value === undefined ? null : String(value);

type ReadsParts = {
  sql: DurableSql;
  rows: DurableLedgerRows;
  walletAvailable(tenantId: string): bigint;
};

export function durableLedgerReads(parts: ReadsParts): LedgerReads {
  const { sql, rows } = parts;
  const named = (query: string, values: Readonly<Record<string, SqlParameter>>): SqlRow[] => {
    const [text, parameters] = positional(query, values);
    return sql.all(text, ...parameters);
  };
  const figuresOf =
    (program: string | null, range: TimeRange): ProgramFiguresQuery =>
    async (name) =>
      named(figureQueries[name], { program, fromMs: range.fromMs, toMs: range.toMs });
  const operatorRows = (
    owner: 'provider_id' | 'tenant_id',
    id: string,
    kind: string,
    limit: number,
  ) =>
    sql.all(
      `SELECT id, CAST(amount AS TEXT) AS amount, reference, memo, created_at_ms AS createdAtMs
       FROM ledger_transactions WHERE ${owner} = ? AND kind = ? ORDER BY id DESC LIMIT ?`,
      id,
      kind,
      limit,
    );
  return {
    transactionPayers: async (idempotencyKey) =>
      payersOfRows(named(sqliteTransactionPayersQuery, { key: idempotencyKey })),
    tenantMoney: async (tenantId) => ({
      walletBalanceMicro: parts.walletAvailable(tenantId),
      holdsMicro: micro(
        sql.first(
          `SELECT CAST(COALESCE(SUM(debits_pending), 0) AS TEXT) AS held FROM accounts
             WHERE owner_id = ? AND kind IN ('wallet', 'coupon')`,
          tenantId,
        )?.held,
      ),
      coupons: rows.couponsOfTenant(tenantId).map(({ availableMicro: _a, ...coupon }) => coupon),
    }),
    coupon: async (couponId) => {
      const found = rows.coupon(couponId);
      if (!found) {
        return undefined;
      }
      const { availableMicro: _available, ...coupon } = found;
      return coupon;
    },
    usage: async (tenantId, range, page) =>
      (page === undefined
        ? sql.all(
            `${usageSelect} WHERE tenant_id = ? AND created_at_ms >= ? AND created_at_ms < ?
             ORDER BY created_at_ms, request_id`,
            tenantId,
            range.fromMs,
            range.toMs,
          )
        : named(
            `${usageSelect} WHERE tenant_id = @tenantId AND created_at_ms >= @fromMs
               AND created_at_ms < @toMs AND (created_at_ms > @afterMs OR request_id > @afterId)
             ORDER BY created_at_ms, request_id LIMIT @limit`,
            { tenantId, ...pageBounds(range, page), limit: page.limit },
          )
      ).map(usageRecordOf),
    usageOfRequest: async (requestId) => {
      const row = sql.first(`${usageSelect} WHERE request_id = ?`, requestId);
      return row && usageRecordOf(row);
    },
    entries: async (tenantId, limit) =>
      named(sqliteTenantEntriesQuery(true), { tenantId, limit }).map(
        (row): LedgerEntry => ({
          transactionId: Number(row.transactionId),
          kind: String(row.kind),
          requestId: textOrNull(row.requestId),
          reference: textOrNull(row.reference),
          debitAccountId: String(row.debitAccountId),
          creditAccountId: String(row.creditAccountId),
          amountMicro: micro(row.amount),
          flag: row.flag as LedgerEntry['flag'],
          createdAtMs: Number(row.createdAtMs),
        }),
      ),
    earnings: async (providerId, range) =>
      sql
        .all(providerEarningsQuery, ...providerEarningsParameters(providerId, range))
        .map(earningsRowOf),
    leaseEarnings: async (providerId, range) =>
      sql
        .all(
          `SELECT x.reference AS leaseId, x.created_at_ms AS closedAtMs,
             CAST(SUM(t.amount) AS TEXT) AS earned
           FROM ledger_transactions x JOIN transfers t ON t.transaction_id = x.id
           WHERE x.kind = 'lease_end' AND t.credit_account_id = 'provider_payable:' || ?
             AND x.created_at_ms >= ? AND x.created_at_ms < ?
           GROUP BY x.reference, x.created_at_ms ORDER BY x.created_at_ms, x.reference`,
          providerId,
          range.fromMs,
          range.toMs,
        )
        .map((row) => ({
          leaseId: String(row.leaseId),
          closedAtMs: Number(row.closedAtMs),
          earnedMicro: micro(row.earned),
        })),
    programStatement: async (program, range, tenantId, page) =>
      named(sqliteProgramStatementQuery, {
        program,
        ...statementPageBounds(range, page),
        tenantId: tenantId ?? null,
      }).map((row) => ({
        requestId: String(row.requestId),
        createdAtMs: Number(row.createdAtMs),
        tenantId: String(row.tenantId),
        couponId: String(row.couponId),
        model: String(row.model),
        providerId: textOrNull(row.providerId),
        inputTokens: numberOrNull(row.inputTokens),
        outputTokens: numberOrNull(row.outputTokens),
        amountMicro: storedAmountMicro(String(row.amount)),
      })),
    programSummary: async (program, range, tenantId) => {
      const set = await readProgramFigures(figuresOf(program, range));
      const granted = await readCouponFigures(figuresOf(program, everything));
      return granted.length === 0 ? undefined : summarizeProgram(program, range, set, tenantId);
    },
    programs: async () => listPrograms(await readCouponFigures(figuresOf(null, everything))),
    check: async () =>
      checkLedger(
        async (name) => sql.all(ledgerCheckQueries[name]),
        () => readProgramFigures(figuresOf(null, everything)),
      ),
    payouts: async (providerId, limit) =>
      operatorRows('provider_id', providerId, 'payout', limit).map((row) => ({
        transactionId: Number(row.id),
        providerId,
        amountMicro: micro(row.amount),
        reference: textOrNull(row.reference) ?? '',
        note: textOrNull(row.memo),
        createdAtMs: Number(row.createdAtMs),
      })),
    providerBalance: async (providerId) => {
      const row = sql.first(
        `SELECT CAST(credits_posted AS TEXT) AS credits, CAST(debits_posted AS TEXT) AS debits
         FROM accounts WHERE id = ?`,
        accountIds.providerPayable(providerId),
      );
      const earnedMicro = row ? micro(row.credits) : 0n;
      const paidMicro = row ? micro(row.debits) : 0n;
      return { earnedMicro, paidMicro, unpaidMicro: earnedMicro - paidMicro };
    },
    paidOut: async (providerId, range) =>
      micro(
        sql.first(
          `SELECT CAST(COALESCE(SUM(amount), 0) AS TEXT) AS paid FROM ledger_transactions
           WHERE provider_id = ? AND kind = 'payout' AND created_at_ms >= ? AND created_at_ms < ?`,
          providerId,
          range.fromMs,
          range.toMs,
        )?.paid,
      ),
    adjustments: async (tenantId, limit) =>
      operatorRows('tenant_id', tenantId, 'adjustment', limit).map((row) => ({
        transactionId: Number(row.id),
        tenantId,
        amountMicro: micro(row.amount),
        reason: textOrNull(row.memo) ?? '',
        reference: textOrNull(row.reference) ?? '',
        createdAtMs: Number(row.createdAtMs),
      })),
  };
}

/**
 * What the PostgreSQL ledger answers: a tenant's money, usage, entries and adjustments, a
 * transaction's payers, a provider's earnings, payouts and balance, a subsidy program's
 * statement (its charges, or its figures reconciled with the ledger) and the list of programs,
 * and the check that recomputes every balance from the transfers and verifies the invariants of
 * DESIGN.md §4. Answers made of several statements read one snapshot (REPEATABLE READ, read
 * only), so a tenant's balance and holds never disagree with each other while other replicas
 * write. Text ordering uses the C collation, as SQLite sorts.
 */

import type pg from 'pg';
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
import {
  pageBounds,
  type StatementPageBounds,
  statementPageBounds,
  type UsagePageBounds,
} from '../../../billing/usage-page.ts';
import { ledgerCheckQueries } from '../../../db/ledger-check-queries.ts';
import { columnList } from '../../../db/ledger-column.ts';
import { usageRecordColumns } from '../../../db/ledger-tables.ts';
import { transactionPayersQuery } from '../../../db/payer-queries.ts';
import { postgresDialect, programFiguresQueries } from '../../../db/program-figures-queries.ts';
import { usageProperties, usageRecordOf } from '../../ledger-row-codecs.ts';
import {
  couponColumns,
  couponRecordOf,
  fundedCouponOf,
  integerOf,
  integerOrNull,
  moneyOf,
  type Row,
  textOf,
  textOrNull,
} from './postgres-ledger-rows.ts';
import { inTransaction } from './postgres-transaction.ts';

const couponSelect = `SELECT ${couponColumns},
    a.credits_posted - a.debits_posted - a.debits_pending AS available, a.debits_pending AS held
  FROM coupons c JOIN accounts a ON a.id = 'coupon:' || c.id`;

function couponOf(row: Row) {
  return fundedCouponOf(couponRecordOf(row), moneyOf(row.available), moneyOf(row.held));
}

async function rowsOf(client: pg.ClientBase | pg.Pool, query: pg.QueryConfig): Promise<Row[]> {
  return (await client.query(query)).rows as Row[];
}

const figureQueries = programFiguresQueries(postgresDialect);

/** All of time: what the ledger check reconciles, and what the list of programs counts. */
const everything: TimeRange = { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER };

/** A query written with `@name` parameters, numbered as PostgreSQL wants them, each typed. */
function numberedParameters(
  text: string,
  parameters: Readonly<Record<string, { value: unknown; type: string }>>,
): pg.QueryConfig {
  const names: string[] = [];
  const numbered = text.replace(/@(\w+)/g, (_, name: string) => {
    const parameter = parameters[name];
    if (parameter === undefined) {
      throw new Error(`the query names @${name}, which has no value`);
    }
    if (!names.includes(name)) {
      names.push(name);
    }
    return `$${names.indexOf(name) + 1}::${parameter.type}`;
  });
  return { text: numbered, values: names.map((name) => parameters[name]?.value) };
}

function figuresOf(
  client: pg.ClientBase,
  program: string | null,
  range: TimeRange,
): ProgramFiguresQuery {
  return (name) =>
    rowsOf(
      client,
      numberedParameters(figureQueries[name], {
        program: { value: program, type: 'text' },
        fromMs: { value: range.fromMs, type: 'bigint' },
        toMs: { value: range.toMs, type: 'bigint' },
      }),
    );
}

/** The operator's transactions of one provider or tenant (`owner`), newest first. */
function operatorTransactionsQuery(
  owner: string,
  ownerId: string,
  kind: string,
  limit: number,
): pg.QueryConfig {
  return {
    name: `tb_read_operator_${owner}`,
    text: `SELECT id, ${owner} AS owner_id, amount, reference, memo, created_at_ms
           FROM ledger_transactions WHERE ${owner} = $1 AND kind = $2 ORDER BY id DESC LIMIT $3`,
    values: [ownerId, kind, limit],
  };
}

export function createPostgresLedgerReads(pool: pg.Pool, retryCountMax: number): LedgerReads {
  const snapshot = <Result>(body: (client: pg.PoolClient) => Promise<Result>) =>
    inTransaction(pool, { retryCountMax, isolation: 'repeatable read', readOnly: true }, body);
  return {
    tenantMoney: async (tenantId) =>
      snapshot(async (client) => {
        const [money] = await rowsOf(client, {
          name: 'tb_read_tenant_money',
          text: `SELECT
                   COALESCE((SELECT credits_posted - debits_posted - debits_pending FROM accounts
                     WHERE id = 'wallet:' || $1), 0) AS wallet,
                   COALESCE((SELECT SUM(debits_pending) FROM accounts
                     WHERE owner_id = $1 AND kind IN ('wallet', 'coupon')), 0) AS held`,
          values: [tenantId],
        });
        const coupons = await rowsOf(client, {
          name: 'tb_read_tenant_coupons',
          text: `${couponSelect} WHERE c.tenant_id = $1 ORDER BY c.created_at_ms, c.id COLLATE "C"`,
          values: [tenantId],
        });
        return {
          walletBalanceMicro: moneyOf(money?.wallet),
          holdsMicro: moneyOf(money?.held),
          coupons: coupons.map(couponOf),
        };
      }),
    coupon: async (couponId) => {
      const [row] = await rowsOf(pool, {
        name: 'tb_read_coupon',
        text: `${couponSelect} WHERE c.id = $1`,
        values: [couponId],
      });
      return row && couponOf(row);
    },
    usage: async (tenantId, range, page) =>
      (
        await rowsOf(
          pool,
          page === undefined
            ? {
                name: 'tb_read_usage',
                text: `SELECT ${columnList(usageRecordColumns, usageProperties)} FROM usage_records
                 WHERE tenant_id = $1 AND created_at_ms >= $2 AND created_at_ms < $3
                 ORDER BY created_at_ms, request_id COLLATE "C"`,
                values: [tenantId, range.fromMs, range.toMs],
              }
            : usagePageQuery(tenantId, pageBounds(range, page), page.limit),
        )
      ).map(usageRecordOf),
    usageOfRequest: async (requestId) => {
      const [row] = await rowsOf(pool, {
        name: 'tb_read_usage_of_request',
        text: `SELECT ${columnList(usageRecordColumns, usageProperties)} FROM usage_records WHERE request_id = $1`,
        values: [requestId],
      });
      return row && usageRecordOf(row);
    },
    transactionPayers: async (idempotencyKey) =>
      payersOfRows(
        await rowsOf(pool, {
          name: 'tb_read_transaction_payers',
          ...numberedParameters(transactionPayersQuery, {
            key: { value: idempotencyKey, type: 'text' },
          }),
        }),
      ),
    entries: async (tenantId, limit) =>
      (
        await rowsOf(pool, {
          name: 'tb_read_entries',
          text: `SELECT t.transaction_id, x.kind, x.request_id, x.reference, t.debit_account_id,
                   t.credit_account_id, t.amount, t.flag, t.created_at_ms
                 FROM ledger_transactions x JOIN transfers t ON t.transaction_id = x.id
                 WHERE x.tenant_id = $1
                   AND (t.debit_account_id IN (SELECT id FROM accounts WHERE owner_id = $1)
                     OR t.credit_account_id IN (SELECT id FROM accounts WHERE owner_id = $1))
                 ORDER BY t.id DESC LIMIT $2`,
          values: [tenantId, limit],
        })
      ).map(
        (row): LedgerEntry => ({
          transactionId: integerOf(row.transaction_id),
          kind: textOf(row.kind),
          requestId: textOrNull(row.request_id),
          reference: textOrNull(row.reference),
          debitAccountId: textOf(row.debit_account_id),
          creditAccountId: textOf(row.credit_account_id),
          amountMicro: moneyOf(row.amount),
          flag: textOf(row.flag) as LedgerEntry['flag'],
          createdAtMs: integerOf(row.created_at_ms),
        }),
      ),
    earnings: async (providerId, range) =>
      (
        await rowsOf(pool, {
          name: 'tb_read_earnings',
          text: `SELECT backend_id, model, COUNT(*) AS requests,
                   COALESCE(SUM(input_tokens), 0) AS input_tokens,
                   COALESCE(SUM(output_tokens), 0) AS output_tokens,
                   COALESCE(SUM(provider_share), 0) AS earned
                 FROM usage_records WHERE provider_id = $1 AND created_at_ms >= $2
                   AND created_at_ms < $3 AND outcome != 'rejected'
                 GROUP BY backend_id, model
                 ORDER BY backend_id COLLATE "C", model COLLATE "C"`,
          values: [providerId, range.fromMs, range.toMs],
        })
      ).map((row) => ({
        backendId: textOf(row.backend_id),
        model: textOf(row.model),
        requests: integerOf(row.requests),
        inputTokens: integerOf(row.input_tokens),
        outputTokens: integerOf(row.output_tokens),
        earnedMicro: moneyOf(row.earned),
      })),
    programStatement: async (program, range, tenantId, page) =>
      (
        await rowsOf(pool, {
          name: 'tb_read_program_statement',
          text: `SELECT u.request_id, u.created_at_ms, u.tenant_id, c.id AS coupon_id, u.model,
                   u.provider_id, u.input_tokens, u.output_tokens, p.value ->> 'amount' AS amount
                 FROM usage_records u
                 CROSS JOIN LATERAL jsonb_array_elements(u.paid_by) AS p(value)
                 JOIN coupons c ON c.id = p.value ->> 'id'
                 WHERE p.value ->> 'source' = 'coupon' AND c.program = $1
                   AND u.created_at_ms >= $2 AND u.created_at_ms < $3
                   AND ($4::text IS NULL OR u.tenant_id = $4)
                   AND (u.created_at_ms > $5 OR u.request_id COLLATE "C" > $6
                     OR (u.request_id = $6 AND c.id COLLATE "C" > $7))
                 ORDER BY u.created_at_ms, u.request_id COLLATE "C", c.id COLLATE "C"
                 LIMIT $8`,
          values: statementValues(program, statementPageBounds(range, page), tenantId),
        })
      ).map((row) => ({
        requestId: textOf(row.request_id),
        createdAtMs: integerOf(row.created_at_ms),
        tenantId: textOf(row.tenant_id),
        couponId: textOf(row.coupon_id),
        model: textOf(row.model),
        providerId: textOrNull(row.provider_id),
        inputTokens: integerOrNull(row.input_tokens),
        outputTokens: integerOrNull(row.output_tokens),
        amountMicro: storedAmountMicro(textOf(row.amount)),
      })),
    programSummary: async (program, range, tenantId) =>
      snapshot(async (client) => {
        const set = await readProgramFigures(figuresOf(client, program, range));
        const granted = await readCouponFigures(figuresOf(client, program, everything));
        return granted.length === 0 ? undefined : summarizeProgram(program, range, set, tenantId);
      }),
    programs: async () =>
      snapshot(async (client) =>
        listPrograms(await readCouponFigures(figuresOf(client, null, everything))),
      ),
    check: async () =>
      snapshot((client) =>
        checkLedger(
          (name) => rowsOf(client, { text: ledgerCheckQueries[name] }),
          () => readProgramFigures(figuresOf(client, null, everything)),
        ),
      ),
    payouts: async (providerId, limit) =>
      (
        await rowsOf(pool, operatorTransactionsQuery('provider_id', providerId, 'payout', limit))
      ).map((row) => ({
        transactionId: integerOf(row.id),
        providerId: textOf(row.owner_id),
        amountMicro: moneyOf(row.amount),
        reference: textOrNull(row.reference) ?? '',
        note: textOrNull(row.memo),
        createdAtMs: integerOf(row.created_at_ms),
      })),
    providerBalance: async (providerId) => {
      const [row] = await rowsOf(pool, {
        name: 'tb_read_account_totals',
        text: 'SELECT credits_posted, debits_posted FROM accounts WHERE id = $1',
        values: [accountIds.providerPayable(providerId)],
      });
      const earnedMicro = row ? moneyOf(row.credits_posted) : 0n;
      const paidMicro = row ? moneyOf(row.debits_posted) : 0n;
      return { earnedMicro, paidMicro, unpaidMicro: earnedMicro - paidMicro };
    },
    leaseEarnings: async (providerId, range) =>
      (
        await rowsOf(pool, {
          name: 'tb_read_lease_earnings',
          text: `SELECT x.reference AS lease_id, x.created_at_ms, SUM(t.amount) AS earned
                 FROM ledger_transactions x JOIN transfers t ON t.transaction_id = x.id
                 WHERE x.kind = 'lease_end' AND t.credit_account_id = 'provider_payable:' || $1
                   AND x.created_at_ms >= $2 AND x.created_at_ms < $3
                 GROUP BY x.reference, x.created_at_ms
                 ORDER BY x.created_at_ms, x.reference COLLATE "C"`,
          values: [providerId, range.fromMs, range.toMs],
        })
      ).map((row) => ({
        leaseId: textOf(row.lease_id),
        closedAtMs: integerOf(row.created_at_ms),
        earnedMicro: moneyOf(row.earned),
      })),
    paidOut: async (providerId, range) => {
      const [row] = await rowsOf(pool, {
        name: 'tb_read_paid_out',
        text: `SELECT COALESCE(SUM(amount), 0) AS paid FROM ledger_transactions
               WHERE provider_id = $1 AND kind = 'payout' AND created_at_ms >= $2
                 AND created_at_ms < $3`,
        values: [providerId, range.fromMs, range.toMs],
      });
      return moneyOf(row?.paid ?? 0);
    },
    adjustments: async (tenantId, limit) =>
      (
        await rowsOf(pool, operatorTransactionsQuery('tenant_id', tenantId, 'adjustment', limit))
      ).map((row) => ({
        transactionId: integerOf(row.id),
        tenantId: textOf(row.owner_id),
        amountMicro: moneyOf(row.amount),
        reason: textOrNull(row.memo) ?? '',
        reference: textOrNull(row.reference) ?? '',
        createdAtMs: integerOf(row.created_at_ms),
      })),
  };
}

function statementValues(
  program: string,
  bounds: StatementPageBounds,
  tenantId: string | undefined,
): unknown[] {
  const { fromMs, toMs, afterMs, afterId, afterCouponId, limit } = bounds;
  // LIMIT NULL is no limit in PostgreSQL.
  const rowsMax = limit < 0 ? null : limit;
  return [program, fromMs, toMs, tenantId ?? null, afterMs, afterId, afterCouponId, rowsMax];
}

function usagePageQuery(tenantId: string, bounds: UsagePageBounds, limit: number) {
  return {
    name: 'tb_read_usage_page',
    text: `SELECT ${columnList(usageRecordColumns, usageProperties)} FROM usage_records
           WHERE tenant_id = $1 AND created_at_ms >= $2 AND created_at_ms < $3
             AND (created_at_ms > $4 OR request_id COLLATE "C" > $5)
           ORDER BY created_at_ms, request_id COLLATE "C" LIMIT $6`,
    values: [tenantId, bounds.fromMs, bounds.toMs, bounds.afterMs, bounds.afterId, limit],
  };
}

/**
 * Phase 1 of a PostgreSQL ledger unit (postgres-ledger-unit.ts): the statements that lock a
 * tenant and read what an operation will need, as one pipelined batch (postgres-pipeline.ts).
 * The tenant is named directly, or through a request's reservation (settle and release learn
 * the tenant and lock it in the same round trip). Its wallet row is locked by the first statement;
 * every other statement of the batch starts after that lock was granted, so under READ COMMITTED
 * it sees every coupon, hold and reservation committed before, and the coupons' accounts are
 * then locked in id order. The rows come back parsed: money as bigint, ids as numbers.
 */
import type pg from 'pg';
import type {
  BackendPlacement,
  OperatorTransaction,
  PendingTransfer,
  PriceTerms,
  RecordedTransaction,
} from '../../../billing/ledger-unit.ts';
import type { PayoutSchedule } from '../../../billing/payout-rates.ts';
import { columnList } from '../../../db/ledger-column.ts';
import { reservationColumns } from '../../../db/ledger-tables.ts';
import { reservationProperties } from '../../ledger-row-codecs.ts';
import {
  couponColumns,
  integerOf,
  moneyOf,
  type Row,
  textOf,
  textOrNull,
} from './postgres-ledger-rows.ts';

/** Whose money an operation moves: a tenant, or the tenant of a request's reservation. */
export type TenantLock = { tenantId: string } | { requestId: string };

export type OrphanCriteria = {
  ownerSilentBeforeMs: number;
  overdueInstanceId: string;
  overdueBeforeMs: number;
};

/** What an operation reads under the lock; each is loaded when named. */
export type UnitReads = {
  reservation?: string;
  /** The reservation, only while it is still open and orphaned by these criteria. */
  orphan?: { requestId: string; criteria: OrphanCriteria };
  /** A transaction by idempotency key. */
  transaction?: string;
  /** A request's `reserve:` transaction and its holds still open. */
  holdsOf?: string;
  usageCost?: string;
  /** A provider's payout rates: the rate it was created with and every version. */
  payout?: string;
  backend?: string;
  price?: string;
  /** An operator's transaction (payout, adjustment) by idempotency key. */
  operator?: string;
  /** Shared accounts the operation reads: locked in id order (absent ones are not created). */
  sharedAccounts?: readonly string[];
};

export type Balances = {
  debitsPosted: bigint;
  creditsPosted: bigint;
  debitsPending: bigint;
  creditsPending: bigint;
};

const accountBalanceColumns =
  'a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending';

export function balancesOf(row: Row): Balances {
  return {
    debitsPosted: moneyOf(row.debits_posted),
    creditsPosted: moneyOf(row.credits_posted),
    debitsPending: moneyOf(row.debits_pending),
    creditsPending: moneyOf(row.credits_pending),
  };
}

/** The wallet row, locked: the tenant's lock. Through a reservation it answers its tenant too. */
export function lockWalletStatement(lock: TenantLock): pg.QueryConfig {
  if ('tenantId' in lock) {
    return {
      name: 'tb_lock_wallet',
      text: `SELECT ${accountBalanceColumns} FROM accounts a WHERE a.id = 'wallet:' || $1
             FOR UPDATE`,
      values: [lock.tenantId],
    };
  }
  return {
    name: 'tb_lock_wallet_of_reservation',
    text: `SELECT r.tenant_id, ${accountBalanceColumns}
           FROM reservations r JOIN accounts a ON a.id = 'wallet:' || r.tenant_id
           WHERE r.request_id = $1 FOR UPDATE OF a`,
    values: [lock.requestId],
  };
}

/** The tenant's coupons with their accounts, the accounts locked in id order. */
export function lockCouponsStatement(lock: TenantLock): pg.QueryConfig {
  const select = `SELECT a.id AS account_id, ${accountBalanceColumns}, ${couponColumns}
                  FROM coupons c JOIN accounts a ON a.id = 'coupon:' || c.id`;
  const order = 'ORDER BY a.id COLLATE "C" FOR UPDATE OF a';
  if ('tenantId' in lock) {
    return {
      name: 'tb_lock_coupons',
      text: `${select} WHERE c.tenant_id = $1 ${order}`,
      values: [lock.tenantId],
    };
  }
  return {
    name: 'tb_lock_coupons_of_reservation',
    text: `${select}
           WHERE c.tenant_id = (SELECT tenant_id FROM reservations WHERE request_id = $1) ${order}`,
    values: [lock.requestId],
  };
}

/** Reservations by request id: one row each that exists. */
export function reservationsStatement(requestIds: readonly string[]): pg.QueryConfig {
  return {
    name: 'tb_reservations',
    text: `SELECT ${columnList(reservationColumns, reservationProperties)} FROM reservations
           WHERE request_id = ANY($1::text[])`,
    values: [requestIds],
  };
}

export function orphanStatement(requestId: string, criteria: OrphanCriteria): pg.QueryConfig {
  return {
    name: 'tb_orphan',
    text: `SELECT ${columnList(reservationColumns, reservationProperties)} FROM reservations r
           WHERE r.request_id = $1 AND r.status = 'reserved'
             AND (NOT EXISTS (SELECT 1 FROM gateway_instances g
               WHERE g.id = r.instance_id AND g.heartbeat_at_ms >= $2)
               OR (r.instance_id = $3 AND r.admitted_at_ms < $4))`,
    values: [
      requestId,
      criteria.ownerSilentBeforeMs,
      criteria.overdueInstanceId,
      criteria.overdueBeforeMs,
    ],
  };
}

export function transactionStatement(idempotencyKey: string): pg.QueryConfig {
  return {
    name: 'tb_transaction',
    text: `SELECT id, amount, kind, reference FROM ledger_transactions
           WHERE idempotency_key = $1`,
    values: [idempotencyKey],
  };
}

export function recordedTransactionOf(row: Row): RecordedTransaction {
  return {
    id: integerOf(row.id),
    amountMicro: moneyOf(row.amount),
    kind: textOf(row.kind),
    reference: row.reference === null ? null : textOf(row.reference),
  };
}

/**
 * A transaction (by key) with its holds that no later transfer posted or voided, oldest first:
 * one row per hold, or one row with no hold (null id) when it has none; no row when there is no
 * such transaction.
 */
export function transactionHoldsStatement(idempotencyKey: string): pg.QueryConfig {
  return {
    name: 'tb_transaction_holds',
    text: `SELECT x.id AS transaction_id, x.amount AS transaction_amount, x.kind, t.id,
             t.debit_account_id, t.credit_account_id, t.amount
           FROM ledger_transactions x LEFT JOIN transfers t ON t.transaction_id = x.id
             AND t.flag = 'pending'
             AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = t.id)
           WHERE x.idempotency_key = $1
           ORDER BY t.id`,
    values: [idempotencyKey],
  };
}

/**
 * Reservations with their `reserve:` transaction and that transaction's open holds, by request
 * and then oldest hold first (settle and release read all three): one row per hold, or one row
 * with no hold (null id) when none is open; no row for a request without a reservation (a
 * reserve transaction never exists without its reservation, both being written by one journal).
 */
export function reservationsHoldsStatement(requestIds: readonly string[]): pg.QueryConfig {
  return {
    name: 'tb_reservations_holds',
    text: `SELECT ${columnList(reservationColumns, reservationProperties, 'r')}, x.id AS transaction_id,
             x.amount AS transaction_amount, x.kind, t.id, t.debit_account_id,
             t.credit_account_id, t.amount
           FROM reservations r
             LEFT JOIN ledger_transactions x ON x.idempotency_key = 'reserve:' || r.request_id
             LEFT JOIN transfers t ON t.transaction_id = x.id AND t.flag = 'pending'
               AND NOT EXISTS (SELECT 1 FROM transfers p WHERE p.pending_id = t.id)
           WHERE r.request_id = ANY($1::text[])
           ORDER BY r.request_id, t.id`,
    values: [requestIds],
  };
}

/** The transaction of a transactionHoldsStatement or reservationsHoldsStatement row, if any. */
export function holdingTransactionOf(row: Row): RecordedTransaction | null {
  if (row.transaction_id === null || row.transaction_id === undefined) {
    return null;
  }
  return {
    id: integerOf(row.transaction_id),
    amountMicro: moneyOf(row.transaction_amount),
    kind: textOf(row.kind),
    // Only reserve transactions hold money, and they carry no reference.
    reference: null,
  };
}

/** The hold of a transactionHoldsStatement row, if it has one. */
export function pendingTransferOf(row: Row): PendingTransfer {
  return {
    id: integerOf(row.id),
    debitAccountId: textOf(row.debit_account_id),
    creditAccountId: textOf(row.credit_account_id),
    amount: moneyOf(row.amount),
  };
}

export function usageCostStatement(requestId: string): pg.QueryConfig {
  return {
    name: 'tb_usage_cost',
    text: 'SELECT cost, paid_by FROM usage_records WHERE request_id = $1',
    values: [requestId],
  };
}

/** The provider's rate at creation, with one row per rate version (none: null version). */
export function payoutStatement(providerId: string): pg.QueryConfig {
  return {
    name: 'tb_payout_schedule',
    text: `SELECT p.payout_bps, r.version, r.payout_bps AS version_bps, r.effective_at_ms
           FROM providers p LEFT JOIN provider_payout_rates r ON r.provider_id = p.id
           WHERE p.id = $1`,
    values: [providerId],
  };
}

export function payoutScheduleOf(rows: readonly Row[]): PayoutSchedule | null {
  const [first] = rows;
  if (!first) {
    return null;
  }
  return {
    baseBps: integerOf(first.payout_bps),
    versions: rows
      .filter((row) => row.version !== null && row.version !== undefined)
      .map((row) => ({
        version: integerOf(row.version),
        payoutBps: integerOf(row.version_bps),
        effectiveAtMs: integerOf(row.effective_at_ms),
      })),
  };
}

export function operatorTransactionStatement(idempotencyKey: string): pg.QueryConfig {
  return {
    name: 'tb_operator_transaction',
    text: `SELECT id, amount, kind, reference, memo, created_at_ms FROM ledger_transactions
           WHERE idempotency_key = $1`,
    values: [idempotencyKey],
  };
}

export function operatorTransactionOf(row: Row): OperatorTransaction {
  return {
    ...recordedTransactionOf(row),
    reference: textOrNull(row.reference),
    memo: textOrNull(row.memo),
    createdAtMs: integerOf(row.created_at_ms),
  };
}

/** Shared accounts with their balances, locked in id order like every other lock. */
export function lockSharedAccountsStatement(ids: readonly string[]): pg.QueryConfig {
  return {
    name: 'tb_lock_shared_accounts_read',
    text: `SELECT a.id, ${accountBalanceColumns} FROM accounts a WHERE a.id = ANY($1::text[])
           ORDER BY a.id COLLATE "C" FOR UPDATE`,
    values: [ids],
  };
}

export function backendStatement(backendId: string): pg.QueryConfig {
  return {
    name: 'tb_backend_placement',
    text: 'SELECT provider_id, region FROM backends WHERE id = $1',
    values: [backendId],
  };
}

export function backendPlacementOf(row: Row): BackendPlacement {
  return { providerId: textOf(row.provider_id), region: textOf(row.region) };
}

export function priceStatement(priceId: string): pg.QueryConfig {
  return {
    name: 'tb_price_terms',
    text: `SELECT input_per_million, cached_input_per_million, output_per_million
           FROM prices WHERE id = $1`,
    values: [priceId],
  };
}

export function priceTermsOf(row: Row): PriceTerms {
  return {
    inputPerMillion: moneyOf(row.input_per_million),
    cachedInputPerMillion: moneyOf(row.cached_input_per_million),
    outputPerMillion: moneyOf(row.output_per_million),
  };
}

/**
 * The tenants of a group of operations (postgres-group-commit.ts), named directly or through
 * requests' reservations: every one's wallet row, locked in id order. Groups on every replica
 * lock their tenants in that one order, so none waits on another in the opposite order; a lone
 * operation locks one tenant only. Each row answers its tenant.
 */
export function lockWalletsStatement(
  tenantIds: readonly string[],
  requestIds: readonly string[],
): pg.QueryConfig {
  return {
    name: 'tb_lock_wallets',
    text: `SELECT substr(a.id, length('wallet:') + 1) AS tenant_id, ${accountBalanceColumns}
           FROM accounts a WHERE a.id IN (SELECT 'wallet:' || t FROM unnest($1::text[]) AS t
             UNION SELECT 'wallet:' || r.tenant_id FROM reservations r
             WHERE r.request_id = ANY($2::text[]))
           ORDER BY a.id COLLATE "C" FOR UPDATE`,
    values: [tenantIds, requestIds],
  };
}

/** The coupons of the tenants lockWalletsStatement locked, their accounts locked in id order. */
export function lockCouponsOfTenantsStatement(
  tenantIds: readonly string[],
  requestIds: readonly string[],
): pg.QueryConfig {
  return {
    name: 'tb_lock_coupons_of_tenants',
    text: `SELECT a.id AS account_id, ${accountBalanceColumns}, ${couponColumns}
           FROM coupons c JOIN accounts a ON a.id = 'coupon:' || c.id
           WHERE c.tenant_id IN (SELECT t FROM unnest($1::text[]) AS t
             UNION SELECT r.tenant_id FROM reservations r WHERE r.request_id = ANY($2::text[]))
           ORDER BY a.id COLLATE "C" FOR UPDATE OF a`,
    values: [tenantIds, requestIds],
  };
}

/**
 * The ledger check's rules for storage ticks (storage-operation.ts), as every store runs them:
 * each tick is one transaction keyed by its tenant and tick start, so a tenant is charged at most
 * once a tick; a paid tick (`storage`) moves exactly its cost, posted at once, from the tenant's
 * own storage coupons (each within its coverage) and wallet straight to revenue, with no provider
 * share; an unpaid tick (`storage_unpaid`) moves nothing and names the start of its arrears, no
 * later than itself. The query (db/ledger-check-queries.ts) answers one row per transfer of such
 * a transaction (a transaction without transfers once, its transfer columns null).
 */
import { shareOf } from './cost.ts';
import { accountIds } from './ledger-accounts.ts';
import { storageReference } from './storage-operation.ts';

type StorageTransfer = {
  debit: string;
  credit: string;
  flag: string;
  amountMicro: bigint;
  /** Set when the debit is a coupon account: that coupon's owner, kind and coverage. */
  coupon: { tenantId: string; kind: string; coverageBps: number } | undefined;
};

type StorageTransaction = {
  key: string;
  kind: string;
  tenantId: string;
  reference: string | null;
  amountMicro: bigint;
  transfers: StorageTransfer[];
};

function integerValue(value: unknown): bigint {
  return typeof value === 'bigint' ? value : BigInt(String(value ?? 0));
}

function optionalText(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

function transferOf(row: Record<string, unknown>): StorageTransfer[] {
  if (row.debit === null || row.debit === undefined) {
    return [];
  }
  const couponTenant = optionalText(row.coupon_tenant_id);
  return [
    {
      debit: String(row.debit),
      credit: String(row.credit),
      flag: String(row.flag),
      amountMicro: integerValue(row.transfer_amount),
      coupon:
        couponTenant === null
          ? undefined
          : {
              tenantId: couponTenant,
              kind: String(row.coupon_kind),
              coverageBps: Number(integerValue(row.coupon_coverage_bps)),
            },
    },
  ];
}

function groupByTransaction(rows: readonly Record<string, unknown>[]): StorageTransaction[] {
  const byKey = new Map<string, StorageTransaction>();
  for (const row of rows) {
    const key = String(row.idempotency_key);
    const transaction = byKey.get(key) ?? {
      key,
      kind: String(row.kind),
      tenantId: String(row.tenant_id),
      reference: optionalText(row.reference),
      amountMicro: integerValue(row.amount),
      transfers: [],
    };
    transaction.transfers.push(...transferOf(row));
    byKey.set(key, transaction);
  }
  return [...byKey.values()];
}

/** The tick a key charges, when it is the storage key of the transaction's own tenant. */
function tickOf(transaction: StorageTransaction): number | undefined {
  const tickStartMs = Number(transaction.key.slice(transaction.key.lastIndexOf(':') + 1));
  return Number.isSafeInteger(tickStartMs) &&
    storageReference(transaction.tenantId, tickStartMs) === transaction.key
    ? tickStartMs
    : undefined;
}

/** Why a transfer of a paid tick is not its tenant paying for storage; undefined when it is. */
function misdirection(transaction: StorageTransaction, transfer: StorageTransfer) {
  if (transfer.flag !== 'posted') {
    return `a ${transfer.flag} transfer`;
  }
  if (transfer.credit !== accountIds.revenue) {
    return `a transfer to ${transfer.credit}`;
  }
  const ownCoupon =
    transfer.coupon?.tenantId === transaction.tenantId && transfer.coupon.kind === 'storage';
  if (transfer.debit !== accountIds.wallet(transaction.tenantId) && !ownCoupon) {
    return `a transfer from ${transfer.debit}`;
  }
  if (
    transfer.coupon &&
    transfer.amountMicro > shareOf(transaction.amountMicro, transfer.coupon.coverageBps)
  ) {
    return `${transfer.debit} paying ${transfer.amountMicro}, beyond its coverage`;
  }
  return undefined;
}

function paidTickProblems(transaction: StorageTransaction): string[] {
  const moved = transaction.transfers.reduce((sum, transfer) => sum + transfer.amountMicro, 0n);
  const misdirected = transaction.transfers.flatMap((transfer) => {
    const why = misdirection(transaction, transfer);
    return why === undefined ? [] : [`storage tick ${transaction.key}: ${why}`];
  });
  return moved === transaction.amountMicro
    ? misdirected
    : [
        ...misdirected,
        `storage tick ${transaction.key}: moved ${moved} for a cost of ${transaction.amountMicro}`,
      ];
}

function unpaidTickProblems(transaction: StorageTransaction, tickStartMs: number): string[] {
  const problems =
    transaction.transfers.length === 0
      ? []
      : [`storage tick ${transaction.key} went unpaid but moved money`];
  const arrearsSinceMs = Number(transaction.reference);
  if (
    transaction.reference === null ||
    !Number.isSafeInteger(arrearsSinceMs) ||
    arrearsSinceMs > tickStartMs
  ) {
    problems.push(
      `storage tick ${transaction.key}: arrears since ${transaction.reference}, not a start at or before the tick`,
    );
  }
  return problems;
}

export function storageChargeProblems(rows: readonly Record<string, unknown>[]): string[] {
  return groupByTransaction(rows).flatMap((transaction) => {
    const tickStartMs = tickOf(transaction);
    if (tickStartMs === undefined) {
      return [
        `transaction ${transaction.key}: a ${transaction.kind} not keyed by its tenant ${transaction.tenantId} and a tick`,
      ];
    }
    return transaction.kind === 'storage_unpaid'
      ? unpaidTickProblems(transaction, tickStartMs)
      : paidTickProblems(transaction);
  });
}

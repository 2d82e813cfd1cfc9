/**
 * The ledger transactions a meter's own check rules judge (storage-check.ts, lease-check.ts), read
 * from the check's rows: one row per transfer of such a transaction (a transaction without
 * transfers once, its transfer columns null), with the coupon a transfer debits when it is one.
 * Also the rule those meters share: a payment is posted at once from the tenant's own wallet or
 * its own coupons of the meter's kind, each within its coverage, straight to revenue.
 */
import { shareOf } from './cost.ts';
import { accountIds } from './ledger-accounts.ts';
import { integerValue } from './program-figures.ts';

export type CheckedTransfer = {
  /** The store's order of transfers: a charge's payers in the order they paid. */
  id: bigint;
  debit: string;
  credit: string;
  flag: string;
  amountMicro: bigint;
  /** Set when the debit is a coupon account: that coupon's owner, kind, coverage and status. */
  coupon: { tenantId: string; kind: string; coverageBps: number; status: string } | undefined;
};

export type CheckedTransaction = {
  key: string;
  kind: string;
  tenantId: string;
  reference: string | null;
  amountMicro: bigint;
  transfers: CheckedTransfer[];
};

export function optionalText(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

function transferOf(row: Record<string, unknown>): CheckedTransfer[] {
  if (row.debit === null || row.debit === undefined) {
    return [];
  }
  const couponTenant = optionalText(row.coupon_tenant_id);
  return [
    {
      id: integerValue(row.transfer_id),
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
              status: String(row.coupon_status),
            },
    },
  ];
}

/** The rows grouped by transaction, each one's transfers in the store's order. */
export function checkedTransactions(
  rows: readonly Record<string, unknown>[],
): CheckedTransaction[] {
  const byKey = new Map<string, CheckedTransaction>();
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
  for (const transaction of byKey.values()) {
    transaction.transfers.sort((left, right) => (left.id < right.id ? -1 : 1));
  }
  return [...byKey.values()];
}

export function movedMicro(transfers: readonly CheckedTransfer[]): bigint {
  return transfers.reduce((sum, transfer) => sum + transfer.amountMicro, 0n);
}

/**
 * Why a transfer of a paid charge is not its tenant paying with its wallet or its own coupons of
 * `couponKind`, within their coverage of the charge; undefined when it is.
 */
export function paymentMisdirection(
  transaction: CheckedTransaction,
  transfer: CheckedTransfer,
  couponKind: string,
): string | undefined {
  if (transfer.flag !== 'posted') {
    return `a ${transfer.flag} transfer`;
  }
  if (transfer.credit !== accountIds.revenue) {
    return `a transfer to ${transfer.credit}`;
  }
  const ownCoupon =
    transfer.coupon?.tenantId === transaction.tenantId && transfer.coupon.kind === couponKind;
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

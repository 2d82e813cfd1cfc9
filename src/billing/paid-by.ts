/**
 * Who paid a charge (coupons, the wallet, a write-off), as the ledger reports it and as usage
 * records store it: amounts as decimal strings, the way the API shows them, so a stored record
 * reads the same in every store and in an export.
 */
import { assert } from '../assert.ts';
import { optionalText } from './checked-transactions.ts';
import type { PaidBy } from './ledger.ts';
import { couponIdOfAccount } from './ledger-accounts.ts';
import { formatMoney, parseMoney } from './money.ts';
import { couponKindOf, integerValue } from './program-figures.ts';
import type { CouponKind } from './waterfall.ts';

export type StoredPaidBy = {
  source: PaidBy['source'];
  id: string | null;
  /** Absent in records written before charges had meters: those were all compute. */
  kind?: PaidBy['kind'];
  amount: string;
};

/** The payer a hold or posting debited: the coupon (of its kind), else the tenant's wallet. */
export function paidFrom(
  accountId: string,
  amountMicro: bigint,
  grant: { kind: CouponKind } | undefined,
): PaidBy {
  const couponId = couponIdOfAccount(accountId);
  return couponId === undefined
    ? { source: 'wallet', id: null, kind: 'wallet', amountMicro }
    : { source: 'coupon', id: couponId, kind: grant?.kind ?? 'compute', amountMicro };
}

/** One entry per payer, in the order they first paid. */
export function mergePaidBy(paidBy: readonly PaidBy[]): PaidBy[] {
  const merged = new Map<string, PaidBy>();
  for (const paid of paidBy) {
    const key = `${paid.source}:${paid.id ?? ''}`;
    const held = merged.get(key);
    merged.set(
      key,
      held ? { ...held, amountMicro: held.amountMicro + paid.amountMicro } : { ...paid },
    );
  }
  return [...merged.values()];
}

/**
 * A transaction's payers from the rows of db/payer-queries.ts, as either store returns them;
 * undefined when there was no such transaction.
 */
export function payersOfRows(rows: readonly Record<string, unknown>[]): PaidBy[] | undefined {
  if (rows.length === 0) {
    return undefined;
  }
  return mergePaidBy(
    rows.flatMap((row) => {
      const debit = optionalText(row.debit);
      const kind = optionalText(row.coupon_kind);
      return debit === null
        ? []
        : [
            paidFrom(
              debit,
              integerValue(row.amount),
              kind === null ? undefined : { kind: couponKindOf(kind) },
            ),
          ];
    }),
  );
}

/** What the tenant actually paid (coupons and wallet): everything but a write-off. */
export function collectedMicro(paidBy: readonly PaidBy[]): bigint {
  return paidBy.reduce(
    (sum, paid) => (paid.source === 'write_off' ? sum : sum + paid.amountMicro),
    0n,
  );
}

export function toStoredPaidBy(paidBy: readonly PaidBy[]): StoredPaidBy[] {
  return paidBy.map((paid) => ({
    source: paid.source,
    id: paid.id,
    kind: paid.kind,
    amount: formatMoney(paid.amountMicro),
  }));
}

export function fromStoredPaidBy(stored: readonly StoredPaidBy[]): PaidBy[] {
  return stored.map((paid) => ({
    source: paid.source,
    id: paid.id,
    kind: paid.kind ?? (paid.source === 'coupon' ? 'compute' : paid.source),
    amountMicro: storedAmountMicro(paid.amount),
  }));
}

/** A decimal amount the store wrote itself: anything else means the row is corrupt. */
export function storedAmountMicro(text: string): bigint {
  const parsed = parseMoney(text);
  assert(parsed.ok, `stored amount ${text} is a decimal amount`);
  return parsed.micro;
}

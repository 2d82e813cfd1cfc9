/**
 * The SQLite ledger's administrative movements: top-ups, coupon grants, voids and expiries. Each
 * is one balanced transaction under an idempotency key, so a replayed reference changes nothing
 * and a reused reference with different terms is refused.
 */
import type Database from 'better-sqlite3';
import {
  type CouponState,
  type GrantInput,
  type Ledger,
  LedgerConflictError,
  type TopUpInput,
} from '../../billing/ledger.ts';
import type { GroupCommit } from './group-commit.ts';
import type { CouponRows } from './sqlite-coupon-rows.ts';
import { accountIds, type LedgerStore } from './sqlite-ledger-store.ts';

type AdministrationOptions = {
  connection: Database.Database;
  store: LedgerStore;
  coupons: CouponRows;
  immediate: GroupCommit;
  walletAvailable: (tenantId: string) => bigint;
};

/** The start is left out: the API defaults it to "now", which differs on every replay. */
function sameTerms(existing: CouponState, input: GrantInput): boolean {
  return (
    existing.kind === input.kind &&
    existing.amountMicro === input.amountMicro &&
    existing.coverageBps === input.coverageBps &&
    existing.program === input.program &&
    existing.priority === input.priority &&
    existing.expiresAtMs === input.expiresAtMs &&
    JSON.stringify(existing.models) === JSON.stringify(input.models) &&
    JSON.stringify(existing.regions) === JSON.stringify(input.regions)
  );
}

export function createLedgerAdministration(
  options: AdministrationOptions,
): Pick<Ledger, 'topUp' | 'grantCoupon' | 'voidCoupon' | 'expireCoupons'> {
  const { store, coupons, immediate, walletAvailable } = options;

  function topUpNow(input: TopUpInput) {
    const idempotencyKey = `topup:${input.tenantId}:${input.reference}`;
    const existing = store.findTransaction(idempotencyKey);
    if (existing) {
      if (existing.amount !== input.amountMicro) {
        throw new LedgerConflictError(
          `reference '${input.reference}' was used for a different amount`,
        );
      }
      return {
        transactionId: existing.id,
        amountMicro: existing.amount,
        walletBalanceMicro: walletAvailable(input.tenantId),
        duplicate: true,
      };
    }
    walletAvailable(input.tenantId);
    const transactionId = store.insertTransaction({
      idempotencyKey,
      kind: 'topup',
      tenantId: input.tenantId,
      requestId: null,
      reference: input.reference,
      amountMicro: input.amountMicro,
      atMs: input.atMs,
    });
    store.post(
      transactionId,
      accountIds.cash,
      accountIds.wallet(input.tenantId),
      input.amountMicro,
      input.atMs,
    );
    return {
      transactionId,
      amountMicro: input.amountMicro,
      walletBalanceMicro: walletAvailable(input.tenantId),
      duplicate: false,
    };
  }

  function grantNow(input: GrantInput) {
    const existing = coupons.byReference(input.tenantId, input.reference);
    if (existing) {
      if (!sameTerms(existing, input)) {
        throw new LedgerConflictError(
          `reference '${input.reference}' was used for a different grant`,
        );
      }
      return { coupon: existing, duplicate: true };
    }
    coupons.insert({ ...input, createdAtMs: input.atMs });
    const couponAccount = accountIds.coupon(input.id);
    const funding = accountIds.subsidyReceivable(input.program);
    store.ensureAccount(couponAccount, 'coupon', input.tenantId);
    store.ensureAccount(funding, 'subsidy_receivable', null);
    const transactionId = store.insertTransaction({
      idempotencyKey: `grant:${input.tenantId}:${input.reference}`,
      kind: 'grant',
      tenantId: input.tenantId,
      requestId: null,
      reference: input.reference,
      amountMicro: input.amountMicro,
      atMs: input.atMs,
    });
    if (input.amountMicro > 0n) {
      store.post(transactionId, funding, couponAccount, input.amountMicro, input.atMs);
    }
    const coupon = coupons.byId(input.id);
    if (!coupon) {
      throw new Error(`coupon ${input.id} vanished inside its own transaction`);
    }
    return { coupon, duplicate: false };
  }

  /** Ends an active grant and moves what is not held to where it goes (funder or breakage). */
  function endGrant(coupon: CouponState, status: 'voided' | 'expired', atMs: number): void {
    if (!coupons.end(coupon.id, status, atMs)) {
      return;
    }
    const transactionId = store.insertTransaction({
      idempotencyKey: `${status === 'voided' ? 'void' : 'expire'}:${coupon.id}`,
      kind: status === 'voided' ? 'void' : 'expire',
      tenantId: coupon.tenantId,
      requestId: null,
      reference: coupon.reference,
      amountMicro: coupon.remainingMicro,
      atMs,
    });
    if (coupon.remainingMicro > 0n) {
      const destination =
        status === 'voided' ? accountIds.subsidyReceivable(coupon.program) : accountIds.breakage;
      store.post(
        transactionId,
        accountIds.coupon(coupon.id),
        destination,
        coupon.remainingMicro,
        atMs,
      );
    }
  }

  return {
    topUp: async (input) => immediate(() => topUpNow(input)),
    grantCoupon: async (input) => immediate(() => grantNow(input)),
    voidCoupon: async (couponId, atMs) =>
      immediate(() => {
        const coupon = coupons.byId(couponId);
        if (coupon?.status === 'active') {
          endGrant(coupon, 'voided', atMs);
        }
        return coupons.byId(couponId);
      }),
    expireCoupons: async (atMs) =>
      immediate(() => {
        const expired = coupons.expiredActive(atMs);
        for (const coupon of expired) {
          endGrant(coupon, 'expired', atMs);
        }
        return expired.length;
      }),
  };
}

/**
 * The ledger's administrative movements, as every store runs them inside one LedgerUnit:
 * top-ups, coupon grants, and the end of a grant (void or expiry). Each is one balanced
 * transaction under an idempotency key, so a replayed reference changes nothing and a reused
 * reference with different terms is refused (LedgerConflictError).
 */
import {
  type CouponState,
  type GrantInput,
  LedgerConflictError,
  type TopUpInput,
  type TopUpResult,
} from './ledger.ts';
import { accountIds } from './ledger-accounts.ts';
import type { LedgerUnit } from './ledger-unit.ts';

/** The start is left out: the API defaults it to "now", which differs on every replay. */
export function sameGrantTerms(existing: CouponState, input: GrantInput): boolean {
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

export function topUpOperation(unit: LedgerUnit, input: TopUpInput): TopUpResult {
  const idempotencyKey = `topup:${input.tenantId}:${input.reference}`;
  const existing = unit.transaction(idempotencyKey);
  if (existing) {
    if (existing.amountMicro !== input.amountMicro) {
      throw new LedgerConflictError(
        `reference '${input.reference}' was used for a different amount`,
      );
    }
    return {
      transactionId: existing.id,
      amountMicro: existing.amountMicro,
      walletBalanceMicro: unit.walletAvailableMicro(input.tenantId),
      duplicate: true,
    };
  }
  unit.walletAvailableMicro(input.tenantId);
  const transactionId = unit.insertTransaction({
    idempotencyKey,
    kind: 'topup',
    tenantId: input.tenantId,
    requestId: null,
    reference: input.reference,
    amountMicro: input.amountMicro,
    atMs: input.atMs,
  });
  unit.post(
    transactionId,
    accountIds.cash,
    accountIds.wallet(input.tenantId),
    input.amountMicro,
    input.atMs,
  );
  return {
    transactionId,
    amountMicro: input.amountMicro,
    walletBalanceMicro: unit.walletAvailableMicro(input.tenantId),
    duplicate: false,
  };
}

export function grantOperation(
  unit: LedgerUnit,
  input: GrantInput,
): { coupon: CouponState; duplicate: boolean } {
  const existing = unit.couponByReference(input.tenantId, input.reference);
  if (existing) {
    if (!sameGrantTerms(existing, input)) {
      throw new LedgerConflictError(
        `reference '${input.reference}' was used for a different grant`,
      );
    }
    return { coupon: existing, duplicate: true };
  }
  unit.insertCoupon({ ...input, createdAtMs: input.atMs });
  const couponAccount = accountIds.coupon(input.id);
  const funding = accountIds.subsidyReceivable(input.program);
  unit.ensureAccount(couponAccount, 'coupon', input.tenantId);
  unit.ensureAccount(funding, 'subsidy_receivable', null);
  const transactionId = unit.insertTransaction({
    idempotencyKey: `grant:${input.tenantId}:${input.reference}`,
    kind: 'grant',
    tenantId: input.tenantId,
    requestId: null,
    reference: input.reference,
    amountMicro: input.amountMicro,
    atMs: input.atMs,
  });
  if (input.amountMicro > 0n) {
    unit.post(transactionId, funding, couponAccount, input.amountMicro, input.atMs);
  }
  const coupon = unit.coupon(input.id);
  if (!coupon) {
    throw new Error(`coupon ${input.id} vanished inside its own transaction`);
  }
  return { coupon, duplicate: false };
}

/** Ends an active grant and moves what is not held to where it goes (funder or breakage). */
export function endGrantOperation(
  unit: LedgerUnit,
  coupon: CouponState,
  status: 'voided' | 'expired',
  atMs: number,
): void {
  if (!unit.endCoupon(coupon.id, status, atMs)) {
    return;
  }
  const transactionId = unit.insertTransaction({
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
    unit.post(
      transactionId,
      accountIds.coupon(coupon.id),
      destination,
      coupon.remainingMicro,
      atMs,
    );
  }
}

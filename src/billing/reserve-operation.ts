/**
 * Reserve, as every store runs it inside one LedgerUnit: a request already reserved answers as
 * it did; otherwise the pure reservation plan (coupons first, then the wallet, clamped when the
 * tenant allows it) becomes one `reserve:{request}` transaction of holds and a reservation row.
 * Also the usage record of a request refused before any hold.
 */
import type { ReserveInput, ReserveResult } from './ledger.ts';
import { accountIds } from './ledger-accounts.ts';
import type { LedgerUnit, UsageRow } from './ledger-unit.ts';
import { chargeLinesOf, transportLine } from './meters.ts';
import { planReservation } from './reservation-plan.ts';

export function reserveOperation(unit: LedgerUnit, input: ReserveInput): ReserveResult {
  const existing = unit.reservation(input.requestId);
  if (existing) {
    return {
      ok: true,
      reservedMicro: existing.reservedAmount,
      outputTokensMax: input.outputTokensMax,
      clamped: false,
    };
  }
  const scope = { model: input.model, region: input.region, atMs: input.atMs };
  const transport = input.transport && transportLine(input.transport);
  const plan = planReservation({
    price: input.price,
    promptTokensEstimate: input.promptTokensEstimate,
    outputTokensMax: input.outputTokensMax,
    clampAllowed: input.clampAllowed,
    line: { kind: 'compute', ...scope },
    otherLines: transport ? chargeLinesOf([transport], scope) : [],
    grants: unit.couponsOfTenant(input.tenantId),
    walletAvailableMicro: unit.walletAvailableMicro(input.tenantId),
  });
  if (!plan.ok) {
    return {
      ok: false,
      affordableOutputTokens: plan.affordableOutputTokens,
      neededMicro: plan.estimateMicro,
      availableMicro: plan.availableMicro,
    };
  }
  const transactionId = unit.insertTransaction({
    idempotencyKey: `reserve:${input.requestId}`,
    kind: 'reserve',
    tenantId: input.tenantId,
    requestId: input.requestId,
    reference: null,
    amountMicro: plan.estimateMicro,
    atMs: input.atMs,
  });
  for (const take of plan.allocation.coupons) {
    unit.hold(
      transactionId,
      accountIds.coupon(take.grantId),
      accountIds.holds,
      take.amountMicro,
      input.atMs,
    );
  }
  if (plan.allocation.walletMicro > 0n) {
    unit.hold(
      transactionId,
      accountIds.wallet(input.tenantId),
      accountIds.holds,
      plan.allocation.walletMicro,
      input.atMs,
    );
  }
  unit.insertReservation({
    requestId: input.requestId,
    tenantId: input.tenantId,
    keyId: input.keyId,
    model: input.model,
    region: input.region,
    priceId: input.price.priceId,
    multiplierBps: input.price.multiplierBps,
    reservedAmount: plan.estimateMicro,
    instanceId: input.instanceId,
    promptTokensEstimate: input.promptTokensEstimate,
    admittedAtMs: input.atMs,
  });
  return {
    ok: true,
    reservedMicro: plan.estimateMicro,
    outputTokensMax: plan.outputTokensMax,
    clamped: plan.clamped,
  };
}

/** The record of a request refused before any hold (it could not pay). */
export function rejectedUsageRow(input: ReserveInput): UsageRow {
  return {
    requestId: input.requestId,
    tenantId: input.tenantId,
    keyId: input.keyId,
    model: input.model,
    region: input.region,
    backendId: null,
    providerId: null,
    leaseId: null,
    inputTokens: null,
    cachedInputTokens: null,
    outputTokens: null,
    reasoningTokens: null,
    usageSource: null,
    claimedInputTokens: null,
    claimedOutputTokens: null,
    outcome: 'rejected',
    costMicro: 0n,
    lines: [],
    providerShareMicro: 0n,
    paidBy: [],
    priceId: input.price.priceId,
    createdAtMs: input.atMs,
    settledAtMs: input.atMs,
  };
}

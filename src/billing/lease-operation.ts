/**
 * The money of a card-hour lease (API.md "Dedicated capacity"), as every store runs it inside one
 * LedgerUnit, in two idempotent transactions:
 * - `lease:{id}` (kind `lease`) charges the whole term up front: one `card_hour` line, paid by
 *   the tenant's compute coupons first, then the wallet, to revenue. A lease the tenant cannot pay
 *   in full is not charged at all and writes nothing; charged again, it reports the payers the
 *   ledger recorded the first time (read once the unit committed);
 * - `lease_end:{id}` (kind `lease_end`) closes it: the hours not delivered go back to what paid
 *   them, each payer pro rata to what it paid (a coupon that ended since keeps no claim: its part
 *   stays with revenue, as its unused remainder would have gone to breakage), and each provider
 *   is credited its payout share of the hours its backends delivered, at the rate in force when
 *   the lease started. Paying providers at the end, not up front, means a refund never takes back
 *   money a provider may already have been paid out.
 */
import { assert } from '../assert.ts';
import { shareOf } from './cost.ts';
import type { LedgerReads, PaidBy } from './ledger.ts';
import { accountIds } from './ledger-accounts.ts';
import type { LedgerUnit } from './ledger-unit.ts';
import { chargeLinesOf, type MeterLine } from './meters.ts';
import { allocateLines, mergeAllocations } from './waterfall.ts';

export type LeaseChargeInput = {
  leaseId: string;
  tenantId: string;
  model: string;
  /** The leased backends' region: compute coupons scoped by region are judged by it. */
  region: string;
  line: MeterLine;
  atMs: number;
};

export type LeaseChargeResult =
  | { paid: true; costMicro: bigint; paidBy: PaidBy[]; duplicate: boolean }
  | { paid: false; costMicro: bigint; availableMicro: bigint };

/**
 * What the operation answers: inside its unit, a charge already recorded is only known to exist;
 * its payers are read once the unit committed (withRecordedPayers).
 */
export type LeaseChargeOutcome =
  | LeaseChargeResult
  | { paid: true; costMicro: bigint; paidBy: undefined; duplicate: true };

/** What a provider's backends delivered of a lease, at the lease's price. */
export type DeliveredValue = { providerId: string; valueMicro: bigint };

export type LeaseEndInput = {
  leaseId: string;
  tenantId: string;
  /** What the charge took, and from whom (the lease's record of its charge). */
  costMicro: bigint;
  paidBy: readonly PaidBy[];
  refundMicro: bigint;
  delivered: readonly DeliveredValue[];
  /** The payout rates in force then apply. */
  startsAtMs: number;
  atMs: number;
};

export type LeaseEndResult = {
  refundedMicro: bigint;
  providerSharesMicro: bigint;
  duplicate: boolean;
};

export const leaseChargeKey = (leaseId: string) => `lease:${leaseId}`;
export const leaseEndKey = (leaseId: string) => `lease_end:${leaseId}`;

export function leaseChargeOperation(
  unit: LedgerUnit,
  input: LeaseChargeInput,
): LeaseChargeOutcome {
  const idempotencyKey = leaseChargeKey(input.leaseId);
  const costMicro = input.line.costMicro;
  if (unit.transaction(idempotencyKey)) {
    return { paid: true, costMicro, paidBy: undefined, duplicate: true };
  }
  const walletMicro = unit.walletAvailableMicro(input.tenantId);
  const allocation = mergeAllocations(
    allocateLines(
      chargeLinesOf([input.line], { model: input.model, region: input.region, atMs: input.atMs }),
      unit.couponsOfTenant(input.tenantId),
      walletMicro,
    ),
  );
  if (allocation.shortfallMicro > 0n) {
    return { paid: false, costMicro, availableMicro: costMicro - allocation.shortfallMicro };
  }
  const transactionId = unit.insertTransaction({
    idempotencyKey,
    kind: 'lease',
    tenantId: input.tenantId,
    requestId: null,
    reference: input.leaseId,
    amountMicro: costMicro,
    atMs: input.atMs,
  });
  const paidBy: PaidBy[] = allocation.coupons.map((take) => {
    unit.post(
      transactionId,
      accountIds.coupon(take.grantId),
      accountIds.revenue,
      take.amountMicro,
      input.atMs,
    );
    return { source: 'coupon', id: take.grantId, kind: 'compute', amountMicro: take.amountMicro };
  });
  if (allocation.walletMicro > 0n) {
    const wallet = accountIds.wallet(input.tenantId);
    unit.post(transactionId, wallet, accountIds.revenue, allocation.walletMicro, input.atMs);
    paidBy.push({
      source: 'wallet',
      id: null,
      kind: 'wallet',
      amountMicro: allocation.walletMicro,
    });
  }
  return { paid: true, costMicro, paidBy, duplicate: false };
}

/** The charge as the Ledger port reports it: a repeated one with the payers of the one recorded. */
export async function withRecordedPayers(
  outcome: LeaseChargeOutcome,
  leaseId: string,
  reads: Pick<LedgerReads, 'transactionPayers'>,
): Promise<LeaseChargeResult> {
  if (!outcome.paid || outcome.paidBy !== undefined) {
    return outcome;
  }
  const paidBy = await reads.transactionPayers(leaseChargeKey(leaseId));
  assert(paidBy, `the charge of lease ${leaseId} is recorded`);
  return { ...outcome, paidBy };
}

/**
 * Each payer's part of a refund, pro rata to what it paid, rounded down; the rounding's remainder
 * goes to the first payer, so the parts add up to the refund exactly.
 */
export function refundParts(
  paidBy: readonly PaidBy[],
  costMicro: bigint,
  refundMicro: bigint,
): PaidBy[] {
  if (refundMicro === 0n || costMicro === 0n) {
    return [];
  }
  const parts = paidBy.map((payer) => ({
    ...payer,
    amountMicro: (payer.amountMicro * refundMicro) / costMicro,
  }));
  const remainder = refundMicro - parts.reduce((sum, part) => sum + part.amountMicro, 0n);
  const first = parts[0];
  if (first) {
    first.amountMicro += remainder;
  }
  return parts.filter((part) => part.amountMicro > 0n);
}

/** The account a refund part returns to, or undefined when its coupon has ended. */
function refundAccount(unit: LedgerUnit, tenantId: string, part: PaidBy): string | undefined {
  if (part.source === 'wallet') {
    return accountIds.wallet(tenantId);
  }
  const coupon = part.id === null ? undefined : unit.coupon(part.id);
  return coupon?.status === 'active' ? accountIds.coupon(coupon.id) : undefined;
}

export function leaseEndOperation(unit: LedgerUnit, input: LeaseEndInput): LeaseEndResult {
  const idempotencyKey = leaseEndKey(input.leaseId);
  if (unit.transaction(idempotencyKey)) {
    return { refundedMicro: 0n, providerSharesMicro: 0n, duplicate: true };
  }
  const refunds = refundParts(input.paidBy, input.costMicro, input.refundMicro).flatMap((part) => {
    const account = refundAccount(unit, input.tenantId, part);
    return account === undefined ? [] : [{ account, amountMicro: part.amountMicro }];
  });
  const refundedMicro = refunds.reduce((sum, refund) => sum + refund.amountMicro, 0n);
  const transactionId = unit.insertTransaction({
    idempotencyKey,
    kind: 'lease_end',
    tenantId: input.tenantId,
    requestId: null,
    reference: input.leaseId,
    amountMicro: refundedMicro,
    atMs: input.atMs,
  });
  for (const refund of refunds) {
    unit.post(transactionId, accountIds.revenue, refund.account, refund.amountMicro, input.atMs);
  }
  let providerSharesMicro = 0n;
  for (const delivered of input.delivered) {
    const payoutBps = unit.providerPayoutBps(delivered.providerId, input.startsAtMs) ?? 0;
    const shareMicro = shareOf(delivered.valueMicro, payoutBps);
    if (shareMicro > 0n) {
      const payable = accountIds.providerPayable(delivered.providerId);
      unit.ensureAccount(payable, 'provider_payable', delivered.providerId);
      unit.post(transactionId, accountIds.revenue, payable, shareMicro, input.atMs);
      providerSharesMicro += shareMicro;
    }
  }
  return { refundedMicro, providerSharesMicro, duplicate: false };
}

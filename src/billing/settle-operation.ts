/**
 * Settle and release, as every store runs them inside one LedgerUnit (DESIGN.md §4): the cost is
 * taken from the request's own holds (the pure settlement plan), what they cannot cover runs a
 * fresh waterfall, what that cannot cover is written off; the provider is credited its share and
 * revenue the rest; the rest of every hold is freed, and a grant that ended meanwhile passes the
 * freed money on. Each ends the reservation exactly once and writes its usage record. The sweep
 * ends a hold whose gateway died: settled from its last checkpoint, else released.
 */
import { assert } from '../assert.ts';
import { type PinnedPrice, shareOf } from './cost.ts';
import type {
  FinalUsage,
  PaidBy,
  ReleaseInput,
  ServedBy,
  SettleInput,
  SettleResult,
} from './ledger.ts';
import { accountIds, couponIdOfAccount } from './ledger-accounts.ts';
import type { LedgerUnit, PendingTransfer, ReservationRow, UsageRow } from './ledger-unit.ts';
import { chargeLinesOf, linesCost, tokenLines, toStoredLines, transportLine } from './meters.ts';
import { collectedMicro, mergePaidBy, paidFrom } from './paid-by.ts';
import {
  type HeldLeg,
  type LinesSettlementPlan,
  planSettlementOfLines,
} from './settlement-plan.ts';
import { allocateLine, type GrantTerms } from './waterfall.ts';

/** The holds of a reservation still open, each with its coupon's terms when it is one. */
export function heldLegs(unit: LedgerUnit, requestId: string): HeldLeg<PendingTransfer>[] {
  const reserve = unit.transaction(`reserve:${requestId}`);
  const pending = reserve ? unit.openHoldsOf(reserve.id) : [];
  return pending.map((transfer) => {
    const couponId = couponIdOfAccount(transfer.debitAccountId);
    return {
      pending: transfer,
      heldMicro: transfer.amount,
      grant: couponId === undefined ? undefined : unit.coupon(couponId),
    };
  });
}

/** After holds are freed, a grant that ended meanwhile passes its freed money on at once. */
function passOnEndedGrants(
  unit: LedgerUnit,
  grants: readonly (GrantTerms | undefined)[],
  transactionId: number,
  atMs: number,
): void {
  const endedIds = new Set(
    grants.flatMap((grant) => (grant && grant.status !== 'active' ? [grant.id] : [])),
  );
  for (const grantId of endedIds) {
    const grant = unit.coupon(grantId);
    if (!grant || grant.status === 'active' || grant.availableMicro <= 0n) {
      continue;
    }
    const destination =
      grant.status === 'voided' ? accountIds.subsidyReceivable(grant.program) : accountIds.breakage;
    unit.post(transactionId, accountIds.coupon(grant.id), destination, grant.availableMicro, atMs);
  }
}

/** What the request's own holds pay of the line, each posted: the plan's first step. */
function postFromHolds(
  unit: LedgerUnit,
  transactionId: number,
  plan: LinesSettlementPlan<PendingTransfer>,
  atMs: number,
): PaidBy[] {
  const paidBy: PaidBy[] = [];
  for (const post of plan.posts) {
    unit.resolve(transactionId, post.pending, post.postMicro, atMs);
    if (post.postMicro > 0n) {
      paidBy.push(paidFrom(post.pending.debitAccountId, post.postMicro, post.grant));
    }
  }
  return paidBy;
}

/** The fresh waterfall for what the holds could not cover: coupons, then the wallet, posted. */
function payFromFreshWaterfall(
  unit: LedgerUnit,
  transactionId: number,
  tenantId: string,
  planned: LinesSettlementPlan<PendingTransfer>['lines'][number],
  atMs: number,
): PaidBy[] {
  const { line, remainingMicro, coveredMicro } = planned;
  if (remainingMicro === 0n) {
    return [];
  }
  const allocation = allocateLine(
    line,
    unit.couponsOfTenant(tenantId),
    unit.walletAvailableMicro(tenantId),
    coveredMicro,
    remainingMicro,
  );
  const paidBy: PaidBy[] = allocation.coupons.map((take) => {
    unit.post(
      transactionId,
      accountIds.coupon(take.grantId),
      accountIds.holds,
      take.amountMicro,
      atMs,
    );
    return { source: 'coupon', id: take.grantId, kind: line.kind, amountMicro: take.amountMicro };
  });
  if (allocation.walletMicro > 0n) {
    unit.post(
      transactionId,
      accountIds.wallet(tenantId),
      accountIds.holds,
      allocation.walletMicro,
      atMs,
    );
    paidBy.push({
      source: 'wallet',
      id: null,
      kind: 'wallet',
      amountMicro: allocation.walletMicro,
    });
  }
  return paidBy;
}

/** What no one could pay moves from write_off into holds, so holds carry the whole cost. */
function writeOff(
  unit: LedgerUnit,
  transactionId: number,
  shortfallMicro: bigint,
  atMs: number,
): PaidBy[] {
  if (shortfallMicro <= 0n) {
    return [];
  }
  unit.post(transactionId, accountIds.writeOff, accountIds.holds, shortfallMicro, atMs);
  return [{ source: 'write_off', id: null, kind: 'write_off', amountMicro: shortfallMicro }];
}

/**
 * Collects the whole cost into holds: the holds, then a fresh waterfall line by line (each kind's
 * coupons, then the wallet), then a write-off of what no one could pay.
 */
function collect(
  unit: LedgerUnit,
  transactionId: number,
  tenantId: string,
  plan: LinesSettlementPlan<PendingTransfer>,
  atMs: number,
): PaidBy[] {
  const paid = [
    ...postFromHolds(unit, transactionId, plan, atMs),
    ...plan.lines.flatMap((planned) =>
      payFromFreshWaterfall(unit, transactionId, tenantId, planned, atMs),
    ),
  ];
  const costMicro = plan.lines.reduce((sum, planned) => sum + planned.line.costMicro, 0n);
  const paidMicro = paid.reduce((sum, payer) => sum + payer.amountMicro, 0n);
  return mergePaidBy([...paid, ...writeOff(unit, transactionId, costMicro - paidMicro, atMs)]);
}

/**
 * What was collected into holds goes out: the provider's share, the rest to revenue. The share is
 * taken only of what the tenant paid (coupons and wallet), never of a write-off (DESIGN.md §4,
 * "What a backend may claim"): the platform does not owe a third party money it never received.
 */
function distribute(
  unit: LedgerUnit,
  transactionId: number,
  reservation: ReservationRow,
  servedBy: ServedBy,
  costMicro: bigint,
  paidBy: readonly PaidBy[],
  atMs: number,
): bigint {
  // The rate in force when the request was admitted, as its price is.
  const providerShareMicro = shareOf(
    collectedMicro(paidBy),
    unit.providerPayoutBps(servedBy.providerId, reservation.admittedAtMs) ?? 0,
  );
  if (providerShareMicro > 0n) {
    const payable = accountIds.providerPayable(servedBy.providerId);
    unit.ensureAccount(payable, 'provider_payable', servedBy.providerId);
    unit.post(transactionId, accountIds.holds, payable, providerShareMicro, atMs);
  }
  if (costMicro - providerShareMicro > 0n) {
    unit.post(
      transactionId,
      accountIds.holds,
      accountIds.revenue,
      costMicro - providerShareMicro,
      atMs,
    );
  }
  return providerShareMicro;
}

function usageFields(
  reservation: ReservationRow,
  servedBy: ServedBy | undefined,
  usage: FinalUsage | undefined,
): Omit<
  UsageRow,
  'outcome' | 'costMicro' | 'lines' | 'providerShareMicro' | 'paidBy' | 'priceId' | 'settledAtMs'
> {
  return {
    requestId: reservation.requestId,
    tenantId: reservation.tenantId,
    keyId: reservation.keyId,
    model: reservation.model,
    region: servedBy?.region ?? null,
    backendId: servedBy?.backendId ?? null,
    providerId: servedBy?.providerId ?? null,
    inputTokens: usage?.inputTokens ?? null,
    cachedInputTokens: usage?.cachedInputTokens ?? null,
    outputTokens: usage?.outputTokens ?? null,
    reasoningTokens: usage?.reasoningTokens ?? null,
    usageSource: usage?.source ?? null,
    claimedInputTokens: usage?.claimed?.inputTokens ?? null,
    claimedOutputTokens: usage?.claimed?.outputTokens ?? null,
    leaseId: null,
    createdAtMs: reservation.admittedAtMs,
  };
}

/** The settle transaction of a request, recorded under its idempotency key. */
function insertSettleTransaction(
  unit: LedgerUnit,
  input: SettleInput,
  tenantId: string,
  costMicro: bigint,
): number {
  return unit.insertTransaction({
    idempotencyKey: `settle:${input.requestId}`,
    kind: 'settle',
    tenantId,
    requestId: input.requestId,
    reference: null,
    amountMicro: costMicro,
    atMs: input.atMs,
  });
}

/** The lines of a request's charge: its tokens, and its transport when it crossed regions. */
export function requestLines(input: Pick<SettleInput, 'usage' | 'price' | 'transport'>) {
  const lines = tokenLines(input.usage, input.price);
  return input.transport ? [...lines, transportLine(input.transport)] : lines;
}

/** Settles a reservation still open (the caller checked its status inside the same unit). */
export function settleOperation(
  unit: LedgerUnit,
  input: SettleInput,
  reservation: ReservationRow,
): SettleResult {
  assert(reservation.status === 'reserved', 'only an open reservation settles');
  const lines = requestLines(input);
  const costMicro = linesCost(lines);
  const chargeLines = chargeLinesOf(lines, {
    model: reservation.model,
    region: input.servedBy.region,
    atMs: reservation.admittedAtMs,
  });
  const transactionId = insertSettleTransaction(unit, input, reservation.tenantId, costMicro);
  const legs = heldLegs(unit, input.requestId);
  const plan = planSettlementOfLines(chargeLines, legs);
  const paidBy = collect(unit, transactionId, reservation.tenantId, plan, input.atMs);
  const providerShareMicro = distribute(
    unit,
    transactionId,
    reservation,
    input.servedBy,
    costMicro,
    paidBy,
    input.atMs,
  );
  passOnEndedGrants(
    unit,
    legs.map((leg) => leg.grant),
    transactionId,
    input.atMs,
  );
  assert(unit.endReservation(input.requestId, 'settled', input.atMs), 'a reservation settles once');
  unit.insertUsage({
    ...usageFields(reservation, input.servedBy, input.usage),
    leaseId: input.leaseId ?? null,
    outcome: input.outcome,
    costMicro,
    lines: toStoredLines(lines),
    providerShareMicro,
    paidBy,
    priceId: input.price.priceId,
    settledAtMs: input.atMs,
  });
  return {
    costMicro,
    lines,
    paidBy,
    walletAvailableMicro: unit.walletAvailableMicro(reservation.tenantId),
    duplicate: false,
  };
}

/** A settle of a request that already ended: what it was charged then, nothing changed now. */
export function duplicateSettlement(unit: LedgerUnit, reservation: ReservationRow): SettleResult {
  const recorded = unit.usageCostAndPayment(reservation.requestId);
  return {
    costMicro: recorded?.costMicro ?? 0n,
    lines: [],
    paidBy: recorded?.paidBy ?? [],
    walletAvailableMicro: unit.walletAvailableMicro(reservation.tenantId),
    duplicate: true,
  };
}

/** Voids every hold of a reservation still open; nothing is charged. */
export function releaseOperation(
  unit: LedgerUnit,
  input: ReleaseInput,
  reservation: ReservationRow,
): void {
  assert(reservation.status === 'reserved', 'only an open reservation is released');
  const transactionId = unit.insertTransaction({
    idempotencyKey: `release:${input.requestId}`,
    kind: 'release',
    tenantId: reservation.tenantId,
    requestId: input.requestId,
    reference: null,
    amountMicro: 0n,
    atMs: input.atMs,
  });
  const legs = heldLegs(unit, input.requestId);
  for (const leg of legs) {
    unit.resolve(transactionId, leg.pending, 0n, input.atMs);
  }
  passOnEndedGrants(
    unit,
    legs.map((leg) => leg.grant),
    transactionId,
    input.atMs,
  );
  assert(
    unit.endReservation(input.requestId, 'released', input.atMs),
    'a reservation is released once',
  );
  unit.insertUsage({
    ...usageFields(reservation, input.servedBy, undefined),
    outcome: input.outcome,
    costMicro: 0n,
    lines: [],
    providerShareMicro: 0n,
    paidBy: [],
    priceId: reservation.priceId,
    settledAtMs: input.atMs,
  });
}

/** Where a swept request was served, when its checkpoint named a backend the store still knows. */
export function sweptServedBy(unit: LedgerUnit, reservation: ReservationRow): ServedBy | undefined {
  if (reservation.backendId === null) {
    return undefined;
  }
  const placement = unit.backendPlacement(reservation.backendId);
  return placement && { backendId: reservation.backendId, ...placement };
}

/** A hold left by a gateway that died: settled from its checkpoint, else released. */
export function sweepOperation(unit: LedgerUnit, reservation: ReservationRow, atMs: number): void {
  const servedBy = sweptServedBy(unit, reservation);
  const price = unit.priceTerms(reservation.priceId);
  if (reservation.checkpointInputTokens === null || !servedBy || !price) {
    releaseOperation(
      unit,
      { requestId: reservation.requestId, outcome: 'gateway_crash', servedBy, atMs },
      reservation,
    );
    return;
  }
  const pinned: PinnedPrice = {
    priceId: reservation.priceId,
    ...price,
    multiplierBps: reservation.multiplierBps,
  };
  settleOperation(
    unit,
    {
      requestId: reservation.requestId,
      usage: {
        inputTokens: reservation.checkpointInputTokens,
        cachedInputTokens: 0,
        outputTokens: reservation.checkpointOutputTokens ?? 0,
        reasoningTokens: undefined,
        source: 'estimate',
      },
      outcome: 'gateway_crash',
      servedBy,
      price: pinned,
      atMs,
    },
    reservation,
  );
}

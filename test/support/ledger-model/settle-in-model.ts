/**
 * How a request, a coupon and a payout rate end in the reference model: settling a request's
 * lines from its holds and then afresh, writing off the rest and sharing what was collected with
 * the provider; releasing its holds; ending a coupon (voided or expired) and passing on what it
 * held.
 */
import type { PinnedPrice } from '../../../src/billing/cost.ts';
import type { PaidBy, UsageOutcome } from '../../../src/billing/ledger.ts';
import { type ChargedLine, coversLine, spendingOrder } from './coupon-spending.ts';
import { type Backend, providers } from './fixed-world.ts';
import {
  atLeastZero,
  type CouponModel,
  costOf,
  couponAvailable,
  couponNamed,
  coverageOf,
  credit,
  type Ending,
  type HoldModel,
  type Model,
  type ReservationModel,
  smaller,
  type TransportModel,
  transportCostOf,
  walletAccount,
  walletAvailable,
} from './reference-model.ts';

/** Payers in the order they first paid, one entry each. */
export class Payments {
  readonly list: PaidBy[] = [];

  add(
    source: PaidBy['source'],
    id: string | null,
    amountMicro: bigint,
    couponKind?: CouponModel['kind'],
  ): void {
    if (amountMicro <= 0n) {
      return;
    }
    const existing = this.list.find((paid) => paid.source === source && paid.id === id);
    if (existing) {
      existing.amountMicro += amountMicro;
    } else {
      const kind = source === 'coupon' ? (couponKind ?? 'compute') : source;
      this.list.push({ source, id, kind, amountMicro });
    }
  }
}

function freeHold(model: Model, reservation: ReservationModel, hold: HoldModel): void {
  if (hold.couponId === null) {
    model.walletHeld.set(
      reservation.tenantId,
      (model.walletHeld.get(reservation.tenantId) ?? 0n) - hold.heldMicro,
    );
  } else {
    couponNamed(model, hold.couponId).heldMicro -= hold.heldMicro;
  }
}

/** A coupon that ended while it held money passes what its holds freed on, as it would have. */
function passOnFreedMoney(model: Model, reservation: ReservationModel): void {
  for (const couponId of new Set(reservation.holds.map((hold) => hold.couponId))) {
    if (couponId === null) {
      continue;
    }
    const coupon = couponNamed(model, couponId);
    const freed = couponAvailable(coupon);
    if (coupon.status !== 'active' && freed > 0n) {
      coupon.balanceMicro -= freed;
      coupon.endedMicro += freed;
      credit(
        model,
        coupon.status === 'voided' ? `subsidy_receivable:${coupon.program}` : 'breakage',
        freed,
      );
    }
  }
}

type LineCharge = { line: ChargedLine; costMicro: bigint };

/**
 * Each line in turn takes from the request's holds, in the order they were taken, what the lines
 * before it left: a coupon's hold pays only a line of its kind, within its coverage of that line
 * (an ended coupon still honours its hold), the wallet's hold any line. What each line could not
 * take is returned, line by line.
 */
function takeFromHolds(
  model: Model,
  holds: readonly HoldModel[],
  charges: readonly LineCharge[],
  takenMicro: bigint[],
  paidByCoupon: Map<string, bigint>,
): bigint[] {
  return charges.map(({ line, costMicro }) => {
    let remainingMicro = costMicro;
    holds.forEach((hold, index) => {
      let room = hold.heldMicro - (takenMicro[index] ?? 0n);
      const coupon = hold.couponId === null ? undefined : couponNamed(model, hold.couponId);
      if (coupon) {
        room = coversLine(coupon, line)
          ? smaller(room, coverageOf(coupon, costMicro) - (paidByCoupon.get(coupon.id) ?? 0n))
          : 0n;
      }
      const paid = atLeastZero(smaller(room, remainingMicro));
      remainingMicro -= paid;
      takenMicro[index] = (takenMicro[index] ?? 0n) + paid;
      if (coupon) {
        paidByCoupon.set(coupon.id, (paidByCoupon.get(coupon.id) ?? 0n) + paid);
      }
    });
    return remainingMicro;
  });
}

/** What a line's holds left unpaid: active coupons of its kind again, then the wallet. */
function payAfresh(
  model: Model,
  tenantId: string,
  { line, costMicro }: LineCharge,
  unpaidMicro: bigint,
  paidByCoupon: Map<string, bigint>,
  payments: Payments,
): bigint {
  let remainingMicro = unpaidMicro;
  const spendable = model.coupons.filter(
    (coupon) =>
      coupon.tenantId === tenantId && coupon.status === 'active' && coversLine(coupon, line),
  );
  for (const coupon of spendingOrder(spendable)) {
    const take = atLeastZero(
      smaller(
        smaller(
          couponAvailable(coupon),
          coverageOf(coupon, costMicro) - (paidByCoupon.get(coupon.id) ?? 0n),
        ),
        remainingMicro,
      ),
    );
    coupon.balanceMicro -= take;
    coupon.usedMicro += take;
    remainingMicro -= take;
    payments.add('coupon', coupon.id, take, coupon.kind);
  }
  const wallet = smaller(atLeastZero(walletAvailable(model, tenantId)), remainingMicro);
  credit(model, walletAccount(tenantId), -wallet);
  payments.add('wallet', null, wallet);
  return remainingMicro - wallet;
}

export function settleInModel(
  model: Model,
  reservation: ReservationModel,
  usage: { inputTokens: number; cachedInputTokens: number; outputTokens: number },
  servedBy: Backend,
  price: PinnedPrice,
  outcome: UsageOutcome,
  transport: TransportModel | null = null,
): Ending {
  const scope = {
    model: reservation.model,
    region: servedBy.region,
    admittedAtMs: reservation.admittedAtMs,
  };
  // The compute line (every token meter) first, then the transport line when bytes crossed.
  const charges: LineCharge[] = [
    { line: { kind: 'compute', ...scope }, costMicro: costOf(usage, price) },
    ...(transport === null
      ? []
      : [
          { line: { kind: 'transport' as const, ...scope }, costMicro: transportCostOf(transport) },
        ]),
  ];
  const costMicro = charges.reduce((sum, charge) => sum + charge.costMicro, 0n);
  const payments = new Payments();
  const paidByCoupon = new Map<string, bigint>();
  // 1. The holds pay what they may of each line; each posts what it paid and frees the rest.
  const takenMicro = reservation.holds.map(() => 0n);
  const unpaid = takeFromHolds(model, reservation.holds, charges, takenMicro, paidByCoupon);
  reservation.holds.forEach((hold, index) => {
    const paid = takenMicro[index] ?? 0n;
    freeHold(model, reservation, hold);
    if (hold.couponId === null) {
      credit(model, walletAccount(reservation.tenantId), -paid);
      payments.add('wallet', null, paid);
    } else {
      const coupon = couponNamed(model, hold.couponId);
      coupon.balanceMicro -= paid;
      coupon.usedMicro += paid;
      payments.add('coupon', coupon.id, paid, coupon.kind);
    }
  });
  // 2. What the holds could not pay, line by line: active coupons of its kind, then the wallet.
  const writtenOffMicro = charges.reduce(
    (sum, charge, index) =>
      sum +
      payAfresh(model, reservation.tenantId, charge, unpaid[index] ?? 0n, paidByCoupon, payments),
    0n,
  );
  // 3. The rest is written off; the provider gets its share of what was collected (never of the
  // write-off), the platform the rest.
  credit(model, 'write_off', -writtenOffMicro);
  payments.add('write_off', null, writtenOffMicro);
  const payoutBps = payoutBpsInModel(model, servedBy.providerId, reservation.admittedAtMs);
  const providerShare = ((costMicro - writtenOffMicro) * BigInt(payoutBps)) / 10_000n;
  credit(model, `provider_payable:${servedBy.providerId}`, providerShare);
  credit(model, 'revenue', costMicro - providerShare);
  passOnFreedMoney(model, reservation);
  reservation.status = 'settled';
  reservation.ending = { costMicro, paidBy: payments.list, outcome };
  return reservation.ending;
}

/** The newest rate version effective at admission (the later one of a tie), else the first rate. */
export function payoutBpsInModel(model: Model, providerId: string, admittedAtMs: number): number {
  const effective = model.payoutRates
    .filter((rate) => rate.providerId === providerId && rate.effectiveAtMs <= admittedAtMs)
    .sort(
      (left, right) => left.effectiveAtMs - right.effectiveAtMs || left.version - right.version,
    );
  return (
    effective.at(-1)?.payoutBps ??
    providers.find((provider) => provider.id === providerId)?.payoutBps ??
    0
  );
}

export function releaseInModel(
  model: Model,
  reservation: ReservationModel,
  outcome: UsageOutcome,
): void {
  for (const hold of reservation.holds) {
    freeHold(model, reservation, hold);
  }
  passOnFreedMoney(model, reservation);
  reservation.status = 'released';
  reservation.ending = { costMicro: 0n, paidBy: [], outcome };
}

export function endCouponInModel(
  model: Model,
  coupon: CouponModel,
  status: 'voided' | 'expired',
): void {
  coupon.status = status;
  const available = couponAvailable(coupon);
  if (available > 0n) {
    coupon.balanceMicro -= available;
    coupon.endedMicro += available;
    credit(
      model,
      status === 'voided' ? `subsidy_receivable:${coupon.program}` : 'breakage',
      available,
    );
  }
}

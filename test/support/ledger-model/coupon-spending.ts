/**
 * Which coupons the reference model spends on a line of a charge, in which order and how much:
 * scope and validity at admission, the spending order, the plan of holds of a line, and the
 * output allowances a tenant can afford (for checking the ledger's clamp).
 */
import type { PinnedPrice } from '../../../src/billing/cost.ts';
import {
  atLeastZero,
  type CouponModel,
  couponAvailable,
  coverageOf,
  estimateOf,
  type HoldModel,
  type Model,
  smaller,
  walletAvailable,
} from './reference-model.ts';

/** A line of a charge: compute (tokens), transport or storage, each paid by its own coupons. */
export type ChargedLine = {
  kind: CouponModel['kind'];
  model: string;
  region: string;
  admittedAtMs: number;
};

/** Kind, scope and validity at admission; status is judged by the caller. */
export function coversLine(coupon: CouponModel, line: ChargedLine): boolean {
  return coupon.kind === line.kind && coversScope(coupon, line);
}

/** Scope and validity at admission, whatever the kind. */
function coversScope(coupon: CouponModel, line: ChargedLine): boolean {
  return (
    coupon.startsAtMs <= line.admittedAtMs &&
    (coupon.expiresAtMs === null || line.admittedAtMs < coupon.expiresAtMs) &&
    (coupon.models === null || coupon.models.includes(line.model)) &&
    (coupon.regions === null || coupon.regions.includes(line.region))
  );
}

/**
 * The order coupons are spent in: priority, then narrower scope (more restricted dimensions,
 * then fewer models, then fewer regions), then the earlier expiry (never last), start, creation
 * and id.
 */
export function spendingOrder(coupons: CouponModel[]): CouponModel[] {
  const keyOf = (coupon: CouponModel): (number | string)[] => [
    coupon.priority,
    -((coupon.models ? 1 : 0) + (coupon.regions ? 1 : 0)),
    coupon.models?.length ?? Number.POSITIVE_INFINITY,
    coupon.regions?.length ?? Number.POSITIVE_INFINITY,
    coupon.expiresAtMs ?? Number.POSITIVE_INFINITY,
    coupon.startsAtMs,
    coupon.createdAtMs,
    coupon.id,
  ];
  return [...coupons].sort((left, right) => {
    const leftKey = keyOf(left);
    const rightKey = keyOf(right);
    for (let index = 0; index < leftKey.length; index += 1) {
      const [leftPart, rightPart] = [leftKey[index] ?? 0, rightKey[index] ?? 0];
      if (leftPart !== rightPart) {
        return leftPart < rightPart ? -1 : 1;
      }
    }
    return 0;
  });
}

export type HoldPlan = {
  couponHolds: HoldModel[];
  couponsMicro: bigint;
  walletMicro: bigint;
  shortfallMicro: bigint;
};

/**
 * Who would pay a line now: active coupons of its kind first, each up to its coverage, then
 * `walletMicro` of the wallet (all of it available, unless other lines of the charge took some).
 */
export function holdPlan(
  model: Model,
  tenantId: string,
  line: ChargedLine,
  costMicro: bigint,
  walletMicro = atLeastZero(walletAvailable(model, tenantId)),
): HoldPlan {
  let remainingMicro = costMicro;
  const couponHolds: HoldModel[] = [];
  const spendable = model.coupons.filter(
    (coupon) =>
      coupon.tenantId === tenantId && coupon.status === 'active' && coversLine(coupon, line),
  );
  for (const coupon of spendingOrder(spendable)) {
    const take = atLeastZero(
      smaller(smaller(couponAvailable(coupon), coverageOf(coupon, costMicro)), remainingMicro),
    );
    if (take > 0n) {
      couponHolds.push({ couponId: coupon.id, heldMicro: take });
      remainingMicro -= take;
    }
  }
  const wallet = smaller(walletMicro, remainingMicro);
  return {
    couponHolds,
    couponsMicro: costMicro - remainingMicro,
    walletMicro: wallet,
    shortfallMicro: remainingMicro - wallet,
  };
}

/**
 * Every output allowance from 0 to `ceiling` the tenant can pay in full, for checking the clamp.
 * Coupons together pay at most the sum of what each may (its balance, its coverage), so a cost
 * is affordable when that sum and `wallet` (what other lines of the charge left of it) reach it;
 * no order is needed for the answer.
 */
export function affordableAllowances(
  model: Model,
  tenantId: string,
  line: ChargedLine,
  price: PinnedPrice,
  promptTokens: number,
  ceiling: number,
  wallet: bigint,
): boolean[] {
  const spendable = model.coupons.filter(
    (coupon) =>
      coupon.tenantId === tenantId && coupon.status === 'active' && coversLine(coupon, line),
  );
  const answers: boolean[] = [];
  for (let outputTokens = 0; outputTokens <= ceiling; outputTokens += 1) {
    const costMicro = estimateOf(price, promptTokens, outputTokens);
    const couponsMayPay = spendable.reduce(
      (sum, coupon) =>
        sum + atLeastZero(smaller(couponAvailable(coupon), coverageOf(coupon, costMicro))),
      0n,
    );
    answers.push(costMicro <= wallet + couponsMayPay);
  }
  return answers;
}

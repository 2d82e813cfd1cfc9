/**
 * Plans a reservation without touching any store: the estimated cost of the request (prompt
 * estimate at the input price plus the whole output allowance at the output price), allocated by
 * the waterfall. When the tenant cannot pay and allows it, the output allowance is lowered to the
 * most it can afford. Lines of other kinds (transport) are fixed estimates, paid first by their
 * own coupons and the wallet; the token line gets what of the wallet they leave.
 */
import { basisPointsWhole, type PinnedPrice, tokenCost } from './cost.ts';
import {
  type Allocation,
  allocateLine,
  allocateLines,
  type ChargeLine,
  type FundedGrant,
  isEligible,
  mergeAllocations,
} from './waterfall.ts';

export type ReservationRequest = {
  price: PinnedPrice;
  promptTokensEstimate: number;
  outputTokensMax: number;
  clampAllowed: boolean;
  line: Omit<ChargeLine, 'costMicro'>;
  grants: readonly FundedGrant[];
  walletAvailableMicro: bigint;
  /** Fixed lines of other kinds (transport), reserved in full or not at all. */
  otherLines?: readonly ChargeLine[];
};

export type ReservationPlan =
  | {
      ok: true;
      estimateMicro: bigint;
      allocation: Allocation;
      outputTokensMax: number;
      clamped: boolean;
    }
  | { ok: false; estimateMicro: bigint; affordableOutputTokens: number; availableMicro: bigint };

function allocationFor(request: ReservationRequest, outputTokens: number) {
  const estimateMicro = tokenCost(
    { inputTokens: request.promptTokensEstimate, cachedInputTokens: 0, outputTokens },
    request.price,
  );
  const allocation = allocateLine(
    { ...request.line, costMicro: estimateMicro },
    request.grants,
    request.walletAvailableMicro,
  );
  return { estimateMicro, allocation };
}

/** Cost levels below the relaxed bound tried before giving up: coupon rounding stays within this. */
const costLevelsTriedMax = 64;

/**
 * Shortfall in 1/10,000 micro-units if coupons paid their coverage without rounding down. The
 * waterfall fills greedily, so coupons pay min(cost, Σ min(available, cost × coverage)): monotone
 * in the cost, unlike the real shortfall, whose per-coupon floors make it dip and rise by up to
 * one micro-unit per coupon.
 */
function relaxedShortfallScaled(request: ReservationRequest, costMicro: bigint): bigint {
  const line = { ...request.line, costMicro };
  const costScaled = costMicro * basisPointsWhole;
  let couponsScaled = 0n;
  for (const grant of request.grants) {
    if (isEligible(grant, line)) {
      const availableScaled = grant.availableMicro * basisPointsWhole;
      const coverageScaled = costMicro * BigInt(grant.coverageBps);
      couponsScaled += availableScaled < coverageScaled ? availableScaled : coverageScaled;
    }
  }
  const uncoveredScaled = costScaled - (couponsScaled < costScaled ? couponsScaled : costScaled);
  const walletScaled = request.walletAvailableMicro * basisPointsWhole;
  return uncoveredScaled > walletScaled ? uncoveredScaled - walletScaled : 0n;
}

/** The largest allowance in [0, ceiling] whose estimate satisfies `accept`, for a monotone accept. */
function largestAllowance(
  request: ReservationRequest,
  ceiling: number,
  accept: (costMicro: bigint) => boolean,
): number {
  let low = -1;
  let high = ceiling;
  while (low < high) {
    const middle = Math.floor((low + high + 1) / 2);
    if (accept(allocationFor(request, middle).estimateMicro)) {
      low = middle;
    } else {
      high = middle - 1;
    }
  }
  return low;
}

/**
 * The largest output allowance in [0, ceiling] the tenant can pay for in full, or -1. Binary
 * search on the relaxed (monotone) shortfall bounds it from above; then cost levels are tried
 * downward, each the next lower estimate the allowance can produce, until one is affordable.
 */
function affordableOutputTokens(request: ReservationRequest, ceiling: number): number {
  let allowance = largestAllowance(
    request,
    ceiling,
    (costMicro) => relaxedShortfallScaled(request, costMicro) === 0n,
  );
  for (let tried = 0; tried < costLevelsTriedMax && allowance >= 0; tried += 1) {
    const { estimateMicro, allocation } = allocationFor(request, allowance);
    if (allocation.shortfallMicro === 0n) {
      return allowance;
    }
    allowance = largestAllowance(request, allowance - 1, (costMicro) => costMicro < estimateMicro);
  }
  return -1;
}

export function planReservation(request: ReservationRequest): ReservationPlan {
  const otherLines = request.otherLines ?? [];
  const others = mergeAllocations(
    allocateLines(otherLines, request.grants, request.walletAvailableMicro),
  );
  const othersMicro = otherLines.reduce((sum, line) => sum + line.costMicro, 0n);
  const tokens = planTokens({
    ...request,
    walletAvailableMicro: request.walletAvailableMicro - others.walletMicro,
  });
  if (!tokens.ok || others.shortfallMicro > 0n) {
    const couponsMicro = others.coupons.reduce((sum, take) => sum + take.amountMicro, 0n);
    return {
      ok: false,
      estimateMicro: tokens.estimateMicro + othersMicro,
      affordableOutputTokens: tokens.ok ? 0 : tokens.affordableOutputTokens,
      availableMicro:
        (tokens.ok ? tokens.estimateMicro : tokens.availableMicro) +
        couponsMicro +
        others.walletMicro,
    };
  }
  return {
    ...tokens,
    estimateMicro: tokens.estimateMicro + othersMicro,
    allocation: mergeAllocations([tokens.allocation, others]),
  };
}

function planTokens(request: ReservationRequest): ReservationPlan {
  const full = allocationFor(request, request.outputTokensMax);
  if (full.allocation.shortfallMicro === 0n) {
    return { ok: true, ...full, outputTokensMax: request.outputTokensMax, clamped: false };
  }
  const affordable = affordableOutputTokens(request, request.outputTokensMax - 1);
  if (request.clampAllowed && affordable >= 1) {
    const clamped = allocationFor(request, affordable);
    return { ok: true, ...clamped, outputTokensMax: affordable, clamped: true };
  }
  const availableMicro =
    request.walletAvailableMicro +
    full.allocation.coupons.reduce((sum, take) => sum + take.amountMicro, 0n);
  return {
    ok: false,
    estimateMicro: full.estimateMicro,
    affordableOutputTokens: Math.max(0, affordable),
    availableMicro,
  };
}

/**
 * Plans a reservation without touching any store: the estimated cost of the request (prompt
 * estimate at the input price plus the whole output allowance at the output price), allocated by
 * the waterfall. When the tenant cannot pay and allows it, the output allowance is lowered to the
 * most it can afford (binary search over the same pure allocation).
 */
import { type PinnedPrice, tokenCost } from './cost.ts';
import { type Allocation, allocateLine, type ChargeLine, type FundedGrant } from './waterfall.ts';

export type ReservationRequest = {
  price: PinnedPrice;
  promptTokensEstimate: number;
  outputTokensMax: number;
  clampAllowed: boolean;
  line: Omit<ChargeLine, 'costMicro'>;
  grants: readonly FundedGrant[];
  walletAvailableMicro: bigint;
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

/** The largest output allowance in [0, ceiling] the tenant can pay for in full, or -1. */
function affordableOutputTokens(request: ReservationRequest, ceiling: number): number {
  if (allocationFor(request, 0).allocation.shortfallMicro > 0n) {
    return -1;
  }
  let low = 0;
  let high = ceiling;
  while (low < high) {
    const middle = Math.floor((low + high + 1) / 2);
    if (allocationFor(request, middle).allocation.shortfallMicro === 0n) {
      low = middle;
    } else {
      high = middle - 1;
    }
  }
  return low;
}

export function planReservation(request: ReservationRequest): ReservationPlan {
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

/**
 * What tokens cost. Prices are integer micro-units per 1,000,000 tokens; each meter is one line
 * item, rounded up once (`ceil(units * price / 1e6)`, scaled by the off-peak multiplier in the
 * same division), so no amount is ever a float and the bias is under one micro-unit per line.
 */
import { assert } from '../assert.ts';

/** A price version pinned at admission, with the time-of-day multiplier in force then. */
export type PinnedPrice = {
  priceId: string;
  inputPerMillion: bigint;
  cachedInputPerMillion: bigint;
  outputPerMillion: bigint;
  /** 10,000 = the list price; an off-peak window sets its own. */
  multiplierBps: number;
};

/** Token counts once they are known; cached input is part of input, billed at its own price. */
export type BilledTokens = {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
};

export const basisPointsWhole = 10_000n;
const tokensPerPriceUnit = 1_000_000n;

/** `ceil(units * pricePerMillion * multiplierBps / (1e6 * 1e4))`, in bigint. */
export function lineCost(units: number, pricePerMillion: bigint, multiplierBps: number): bigint {
  assert(Number.isSafeInteger(units) && units >= 0, 'units must be a non-negative safe integer');
  assert(pricePerMillion >= 0n, 'price must not be negative');
  assert(Number.isSafeInteger(multiplierBps) && multiplierBps >= 0, 'multiplier must be >= 0');
  const numerator = BigInt(units) * pricePerMillion * BigInt(multiplierBps);
  const denominator = tokensPerPriceUnit * basisPointsWhole;
  return (numerator + denominator - 1n) / denominator;
}

export function tokenCost(tokens: BilledTokens, price: PinnedPrice): bigint {
  assert(tokens.cachedInputTokens <= tokens.inputTokens, 'cached input is part of input');
  const uncachedInputTokens = tokens.inputTokens - tokens.cachedInputTokens;
  return (
    lineCost(uncachedInputTokens, price.inputPerMillion, price.multiplierBps) +
    lineCost(tokens.cachedInputTokens, price.cachedInputPerMillion, price.multiplierBps) +
    lineCost(tokens.outputTokens, price.outputPerMillion, price.multiplierBps)
  );
}

/** `floor(amount * bps / 10000)`: the most a share (coverage, payout) may take of an amount. */
export function shareOf(amount: bigint, basisPoints: number): bigint {
  assert(Number.isSafeInteger(basisPoints) && basisPoints >= 0, 'basis points must be >= 0');
  return (amount * BigInt(basisPoints)) / basisPointsWhole;
}

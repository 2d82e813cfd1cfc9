import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BilledTokens, lineCost, type PinnedPrice, shareOf, tokenCost } from './cost.ts';

const propertyRuns = { seed: 20_260_601, numRuns: 1_000 };

/** One line's exact value in micro-units as a fraction: units * price * multiplier / 1e10. */
const lineDenominator = 1_000_000n * 10_000n;

function price(overrides: Partial<PinnedPrice> = {}): PinnedPrice {
  return {
    priceId: 'price-1',
    inputPerMillion: 1_000_000n,
    cachedInputPerMillion: 250_000n,
    outputPerMillion: 3_000_000n,
    multiplierBps: 10_000,
    ...overrides,
  };
}

const units = fc.integer({ min: 0, max: 10_000_000 });
const perMillion = fc.bigInt({ min: 0n, max: 1_000_000_000n });
const multiplier = fc.oneof(fc.constantFrom(10_000, 5_000, 7_500, 0), fc.nat({ max: 20_000 }));
const basisPoints = fc.oneof(fc.constantFrom(0, 1, 5_000, 9_999, 10_000), fc.nat({ max: 10_000 }));

const tokens = fc
  .record({
    inputTokens: fc.nat({ max: 200_000 }),
    cachedShare: fc.double({ min: 0, max: 1, noNaN: true }),
    outputTokens: fc.nat({ max: 200_000 }),
  })
  .map(
    ({ inputTokens, cachedShare, outputTokens }): BilledTokens => ({
      inputTokens,
      cachedInputTokens: Math.floor(inputTokens * cachedShare),
      outputTokens,
    }),
  );

const prices = fc
  .record({
    inputPerMillion: perMillion,
    cachedInputPerMillion: perMillion,
    outputPerMillion: perMillion,
    multiplierBps: multiplier,
  })
  .map((fields): PinnedPrice => ({ priceId: 'price-generated', ...fields }));

function sum(usages: readonly BilledTokens[]): BilledTokens {
  return usages.reduce(
    (total, usage) => ({
      inputTokens: total.inputTokens + usage.inputTokens,
      cachedInputTokens: total.cachedInputTokens + usage.cachedInputTokens,
      outputTokens: total.outputTokens + usage.outputTokens,
    }),
    { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 },
  );
}

describe('lineCost', () => {
  it.each([
    { units: 0, pricePerMillion: 9_000_000n, multiplierBps: 10_000, cost: 0n },
    { units: 1, pricePerMillion: 1n, multiplierBps: 10_000, cost: 1n },
    { units: 1_000_000, pricePerMillion: 2_000_000n, multiplierBps: 10_000, cost: 2_000_000n },
    { units: 1_000_001, pricePerMillion: 1_000_000n, multiplierBps: 10_000, cost: 1_000_001n },
    { units: 3, pricePerMillion: 1_000_000n, multiplierBps: 5_000, cost: 2n },
    { units: 1_000_000, pricePerMillion: 1_000_000n, multiplierBps: 7_500, cost: 750_000n },
    { units: 999_999, pricePerMillion: 1n, multiplierBps: 10_000, cost: 1n },
    { units: 1_000_000, pricePerMillion: 1n, multiplierBps: 10_000, cost: 1n },
    { units: 1_000_001, pricePerMillion: 1n, multiplierBps: 10_000, cost: 2n },
    { units: 500, pricePerMillion: 0n, multiplierBps: 10_000, cost: 0n },
    { units: 500, pricePerMillion: 1_000_000n, multiplierBps: 0, cost: 0n },
  ])(
    'charges $units units at $pricePerMillion per million (x$multiplierBps bps) as $cost',
    ({ units: count, pricePerMillion, multiplierBps, cost }) => {
      expect(lineCost(count, pricePerMillion, multiplierBps)).toBe(cost);
    },
  );

  it('is the exact value rounded up, off by less than one micro-unit', () => {
    fc.assert(
      fc.property(units, perMillion, multiplier, (count, pricePerMillion, multiplierBps) => {
        const cost = lineCost(count, pricePerMillion, multiplierBps);
        const exactNumerator = BigInt(count) * pricePerMillion * BigInt(multiplierBps);
        expect(cost * lineDenominator >= exactNumerator).toBe(true);
        expect((cost - 1n) * lineDenominator < exactNumerator).toBe(true);
      }),
      propertyRuns,
    );
  });

  it('never falls when units, price or multiplier grow', () => {
    fc.assert(
      fc.property(
        units,
        perMillion,
        multiplier,
        fc.nat({ max: 1_000 }),
        fc.bigInt({ min: 0n, max: 1_000n }),
        fc.nat({ max: 1_000 }),
        (count, pricePerMillion, multiplierBps, moreUnits, morePrice, moreMultiplier) => {
          const cost = lineCost(count, pricePerMillion, multiplierBps);
          expect(lineCost(count + moreUnits, pricePerMillion, multiplierBps) >= cost).toBe(true);
          expect(lineCost(count, pricePerMillion + morePrice, multiplierBps) >= cost).toBe(true);
          expect(lineCost(count, pricePerMillion, multiplierBps + moreMultiplier) >= cost).toBe(
            true,
          );
        },
      ),
      propertyRuns,
    );
  });

  it('refuses negative or fractional units, negative prices and negative multipliers', () => {
    expect(() => lineCost(-1, 1n, 10_000)).toThrow(/units/);
    expect(() => lineCost(1.5, 1n, 10_000)).toThrow(/units/);
    expect(() => lineCost(Number.MAX_SAFE_INTEGER + 2, 1n, 10_000)).toThrow(/units/);
    expect(() => lineCost(1, -1n, 10_000)).toThrow(/price/);
    expect(() => lineCost(1, 1n, -1)).toThrow(/multiplier/);
    expect(() => lineCost(1, 1n, 0.5)).toThrow(/multiplier/);
  });
});

describe('tokenCost', () => {
  it('prices uncached input, cached input and output as three lines, each rounded up once', () => {
    const usage = { inputTokens: 1_000, cachedInputTokens: 400, outputTokens: 7 };
    // 600 * 1 + 400 * 0.25 + 7 * 3 = 600 + 100 + 21
    expect(tokenCost(usage, price())).toBe(721n);
    // Each line rounds up on its own: 1 uncached, 1 cached and 1 output token cost 1 micro each.
    const cheap = price({ inputPerMillion: 1n, cachedInputPerMillion: 1n, outputPerMillion: 1n });
    expect(tokenCost({ inputTokens: 2, cachedInputTokens: 1, outputTokens: 1 }, cheap)).toBe(3n);
  });

  it('applies the off-peak multiplier inside the rounding of each line', () => {
    const offPeak = price({ multiplierBps: 5_000 });
    expect(tokenCost({ inputTokens: 3, cachedInputTokens: 0, outputTokens: 1 }, offPeak)).toBe(
      // ceil(3 * 0.5) + ceil(1 * 3 * 0.5)
      2n + 2n,
    );
  });

  it('refuses cached input that exceeds the input it is part of', () => {
    expect(() =>
      tokenCost({ inputTokens: 1, cachedInputTokens: 2, outputTokens: 0 }, price()),
    ).toThrow(/cached input/);
  });

  it('is the sum of its three line costs', () => {
    fc.assert(
      fc.property(tokens, prices, (usage, pinned) => {
        expect(tokenCost(usage, pinned)).toBe(
          lineCost(
            usage.inputTokens - usage.cachedInputTokens,
            pinned.inputPerMillion,
            pinned.multiplierBps,
          ) +
            lineCost(usage.cachedInputTokens, pinned.cachedInputPerMillion, pinned.multiplierBps) +
            lineCost(usage.outputTokens, pinned.outputPerMillion, pinned.multiplierBps),
        );
      }),
      propertyRuns,
    );
  });

  it('does not depend on how a stream split or grouped its tokens, because tokens are summed before pricing', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(tokens, fc.nat(), fc.boolean()), { minLength: 1, maxLength: 10 }),
        prices,
        (chunks, pinned) => {
          const inArrivalOrder = sum(chunks.map(([chunk]) => chunk));
          // The same chunks in another order, summed group by group (each group a checkpoint).
          const shuffled = [...chunks].sort(([, left], [, right]) => left - right);
          const groups: BilledTokens[][] = [[]];
          for (const [chunk, , endsGroup] of shuffled) {
            groups[groups.length - 1]?.push(chunk);
            if (endsGroup) {
              groups.push([]);
            }
          }
          const regrouped = sum(groups.map(sum));
          expect(regrouped).toEqual(inArrivalOrder);
          expect(tokenCost(regrouped, pinned)).toBe(tokenCost(inArrivalOrder, pinned));
        },
      ),
      propertyRuns,
    );
  });

  it('would never charge less if each chunk were priced on its own, so summing first is the fair choice', () => {
    fc.assert(
      fc.property(fc.array(tokens, { minLength: 1, maxLength: 8 }), prices, (chunks, pinned) => {
        const summedFirst = tokenCost(sum(chunks), pinned);
        const pricedPerChunk = chunks.reduce(
          (total, chunk) => total + tokenCost(chunk, pinned),
          0n,
        );
        expect(pricedPerChunk >= summedFirst).toBe(true);
        // Each chunk line rounds up by less than one micro-unit: three lines per chunk.
        expect(pricedPerChunk - summedFirst < BigInt(3 * chunks.length)).toBe(true);
      }),
      propertyRuns,
    );
  });

  it('never falls when any token count grows', () => {
    fc.assert(
      fc.property(
        tokens,
        prices,
        fc.nat({ max: 10_000 }),
        fc.nat({ max: 10_000 }),
        (usage, pinned, moreInput, moreOutput) => {
          const cost = tokenCost(usage, pinned);
          const grown = {
            ...usage,
            inputTokens: usage.inputTokens + moreInput,
            outputTokens: usage.outputTokens + moreOutput,
          };
          expect(tokenCost(grown, pinned) >= cost).toBe(true);
        },
      ),
      propertyRuns,
    );
  });
});

describe('shareOf', () => {
  it.each([
    { amount: 1_000n, basisPoints: 5_000, share: 500n },
    { amount: 1_001n, basisPoints: 5_000, share: 500n },
    { amount: 1n, basisPoints: 9_999, share: 0n },
    { amount: 7n, basisPoints: 10_000, share: 7n },
    { amount: 7n, basisPoints: 0, share: 0n },
    { amount: 10_000n, basisPoints: 1, share: 1n },
  ])(
    'takes $basisPoints bps of $amount as $share (rounded down)',
    ({ amount, basisPoints: bps, share }) => {
      expect(shareOf(amount, bps)).toBe(share);
    },
  );

  it('is the exact share rounded down, and the whole amount at 10,000 bps', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 15n }), basisPoints, (amount, bps) => {
        const share = shareOf(amount, bps);
        expect(share * 10_000n <= amount * BigInt(bps)).toBe(true);
        expect((share + 1n) * 10_000n > amount * BigInt(bps)).toBe(true);
        expect(share <= amount).toBe(true);
        expect(shareOf(amount, 10_000)).toBe(amount);
      }),
      propertyRuns,
    );
  });

  it('splits an amount into a payout and a remainder that never exceed it', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 15n }), basisPoints, (amount, bps) => {
        const payout = shareOf(amount, bps);
        const rest = amount - payout;
        expect(rest >= 0n).toBe(true);
        expect(rest >= shareOf(amount, 10_000 - bps)).toBe(true);
      }),
      propertyRuns,
    );
  });

  it('refuses negative or fractional basis points', () => {
    expect(() => shareOf(1n, -1)).toThrow(/basis points/);
    expect(() => shareOf(1n, 0.5)).toThrow(/basis points/);
  });
});

import { describe, expect, it } from 'vitest';
import { backendRecord, poolWithBackends } from '../../backends/test-backend-record.ts';
import type { PinnedPrice } from '../../billing/cost.ts';
import { limitsSchema } from '../../config.ts';
import type { CatalogCache } from '../../deps.ts';
import { createManualClock } from '../../platform/clock.ts';
import { inferenceEndpoints, inferenceRequestOf } from './inference-request.ts';
import { routePricesOf } from './route-prices.ts';

const limits = limitsSchema.parse({});
const [chat] = inferenceEndpoints;

/** Micro-units per million tokens, input and output, and the multiplier in force. */
function price(input: bigint, output: bigint, multiplierBps = 10_000): PinnedPrice {
  return {
    priceId: `prc_${input}_${output}_${multiplierBps}`,
    inputPerMillion: input,
    cachedInputPerMillion: input,
    outputPerMillion: output,
    multiplierBps,
  };
}

function depsWith(prices: Record<string, PinnedPrice>) {
  const catalogCache: CatalogCache = {
    reload: async () => {},
    pinnedPrice: async (_model, region) => prices[region],
    nextOffpeakAtMs: async () => undefined,
    meterPrices: async () => [],
    outputTokensDefault: async (_model, deploymentDefault) => deploymentDefault,
  };
  return { catalogCache, clock: createManualClock(0), config: { limits } };
}

function request(maxTokens = 100) {
  if (chat === undefined) {
    throw new Error('no chat endpoint');
  }
  return inferenceRequestOf(
    chat,
    { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: maxTokens },
    limits,
  );
}

const { backends } = poolWithBackends(
  ['east', 'west', 'north', 'unpriced'].map((region) =>
    backendRecord({ id: `bkd_${region}`, region }),
  ),
);

describe('routePricesOf', () => {
  it('ranks the regions by what the request costs there, off-peak windows included', async () => {
    const deps = depsWith({
      east: price(1_000_000n, 2_000_000n),
      west: price(1_000_000n, 2_000_000n, 5_000),
      north: price(1_000_000n, 2_000_000n),
    });
    const prices = await routePricesOf(deps, request(), backends, 50);
    expect(prices).toEqual({
      rankByRegion: new Map([
        ['east', 1],
        ['west', 0],
        ['north', 1],
      ]),
      marginMs: 50,
    });
  });

  it('makes no ranks for one region, equal prices, or no margin', async () => {
    const equal = depsWith({ east: price(1n, 2n), west: price(1n, 2n), north: price(1n, 2n) });
    expect(await routePricesOf(equal, request(), backends, 50)).toBeUndefined();
    const [east] = backends;
    const different = depsWith({ east: price(1n, 2n), west: price(9n, 9n) });
    expect(await routePricesOf(different, request(), east ? [east] : [], 50)).toBeUndefined();
    expect(await routePricesOf(different, request(), backends, 0)).toBeUndefined();
  });

  it('weighs input and output as the request would be billed', async () => {
    // East is cheaper for output, west for input: a long answer is cheaper in east.
    const deps = depsWith({
      east: price(3_000_000n, 1_000_000n),
      west: price(1_000_000n, 3_000_000n),
    });
    const long = await routePricesOf(deps, request(4_000), backends, 50);
    expect(long?.rankByRegion.get('east')).toBe(0);
    expect(long?.rankByRegion.get('west')).toBe(1);
  });
});

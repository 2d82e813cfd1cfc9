/**
 * The price order of a request's candidate regions, for the router (backends/ knows no money):
 * what this request would cost in each region at the price in force now (its off-peak window
 * included), from the catalog cache, turned into ranks. The router then prefers a cheaper region
 * when its best backend is predicted to take at most the margin longer. With one region, or
 * the same price everywhere, there is nothing to prefer and no ranks are made.
 */
import type { PooledBackend } from '../../backends/backend-pool.ts';
import type { RoutePrices } from '../../backends/routing/router.ts';
import { tokenCost } from '../../billing/cost.ts';
import type { Limits } from '../../config.ts';
import type { Deps } from '../../deps.ts';
import type { InferenceRequest } from './inference-request.ts';

export type RoutePricesDeps = Pick<Deps, 'catalogCache' | 'clock'> & {
  config: { limits: Pick<Limits, 'outputTokensDefault'> };
};

/** The regions of `allowed` ranked by what `request` costs there; undefined when all are alike. */
export async function routePricesOf(
  deps: RoutePricesDeps,
  request: InferenceRequest,
  allowed: readonly PooledBackend[],
  marginMs: number,
): Promise<RoutePrices | undefined> {
  const regions = [...new Set(allowed.map((backend) => backend.record.region))];
  if (regions.length < 2 || marginMs <= 0) {
    return undefined;
  }
  const atMs = deps.clock.nowMs();
  const tokens = {
    inputTokens: request.promptTokensEstimate,
    cachedInputTokens: 0,
    outputTokens:
      (request.outputTokensAsked ?? deps.config.limits.outputTokensDefault) * request.choiceCount,
  };
  const costs = new Map<string, bigint>();
  for (const region of regions) {
    const price = await deps.catalogCache.pinnedPrice(request.model, region, atMs);
    if (price !== undefined) {
      costs.set(region, tokenCost(tokens, price));
    }
  }
  const distinct = [...new Set(costs.values())].sort((one, other) =>
    one < other ? -1 : one > other ? 1 : 0,
  );
  if (distinct.length < 2) {
    return undefined;
  }
  const rankByRegion = new Map<string, number>();
  for (const [region, cost] of costs) {
    rankByRegion.set(region, distinct.indexOf(cost));
  }
  return { rankByRegion, marginMs };
}

/**
 * GET /v1/models and /v1/models/{id}: the catalog as this key sees it. A model is listed when the
 * key may use it and the pool serves it in a region the tenant may use; each entry says its price
 * (per 1M tokens) and the regions where it is served.
 */
import type { Hono } from 'hono';
import { formatMoney } from '../../billing/money.ts';
import { currentPrices, priceFor } from '../../billing/price-book.ts';
import type { PriceRecord } from '../../db/catalog.ts';
import type { ClientIdentity, Deps, HonoEnv } from '../../deps.ts';
import { listView } from '../admin/views.ts';
import { requireClient } from '../middleware/authenticate.ts';
import { isModelInScope, modelNotFound } from './select-candidates.ts';

type ModelEntry = {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  pricing: { input: string; cached_input: string; output: string; currency: string } | null;
  regions: string[];
};

function pricingView(price: PriceRecord | undefined): ModelEntry['pricing'] {
  if (!price) {
    return null;
  }
  return {
    input: formatMoney(price.inputPerMillion),
    cached_input: formatMoney(price.cachedInputPerMillion),
    output: formatMoney(price.outputPerMillion),
    currency: price.currency,
  };
}

async function visibleModels(deps: Deps, client: ClientIdentity): Promise<ModelEntry[]> {
  const prices = currentPrices(await deps.catalog.listPrices(), deps.clock.nowMs());
  const allowedRegions = client.tenant.allowedRegions;
  const entries: ModelEntry[] = [];
  for (const model of await deps.catalog.listModels()) {
    const regions = [
      ...new Set(deps.pool.serving(model.id).map((backend) => backend.record.region)),
    ]
      .filter((region) => allowedRegions === null || allowedRegions.includes(region))
      .sort();
    if (regions.length === 0 || !isModelInScope(client, model.id)) {
      continue;
    }
    entries.push({
      id: model.id,
      object: 'model',
      created: Math.floor(model.createdAtMs / 1000),
      owned_by: model.ownedBy,
      pricing: pricingView(priceFor(prices, model.id, client.tenant.homeRegion ?? '')),
      regions,
    });
  }
  return entries;
}

export function registerModelRoutes(app: Hono<HonoEnv>): void {
  app.get('/v1/models', requireClient, async (c) => {
    return c.json(listView(await visibleModels(c.get('deps'), c.get('client'))));
  });

  app.get('/v1/models/:id{.+}', requireClient, async (c) => {
    const id = c.req.param('id');
    const entry = (await visibleModels(c.get('deps'), c.get('client'))).find(
      (model) => model.id === id,
    );
    if (!entry) {
      throw modelNotFound(id);
    }
    return c.json(entry);
  });
}

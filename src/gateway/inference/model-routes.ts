/**
 * GET /v1/models and /v1/models/{id}: the catalog as this key sees it. A model is listed when the
 * key may use it and the pool serves it in a region the tenant may use; each entry says its price
 * (per 1M tokens) in the tenant's home region, the regions where it is served, and its price in
 * each of them with the off-peak windows when it is cheaper, so a client sees what it will pay,
 * and when, before it pays.
 */
import type { Hono } from 'hono';
import { formatMoney } from '../../billing/money.ts';
import { currentPrices, priceFor } from '../../billing/price-book.ts';
import type { PriceRecord } from '../../db/catalog.ts';
import type { ClientIdentity, Deps, HonoEnv } from '../../deps.ts';
import { listView } from '../admin/views.ts';
import { requireClient } from '../middleware/authenticate.ts';
import { type RouteDoc, routeDocsFor } from '../openapi/route-doc.ts';
import { isModelInScope, modelNotFound } from './select-candidates.ts';

type OffpeakWindow = { start: string; end: string; timezone: string; multiplier_bps: number };

type RegionPricing = {
  region: string;
  input: string;
  cached_input: string;
  output: string;
  /** Per accelerator-hour of a lease (POST /v1/leases); null when the model is not leased. */
  card_hour: string | null;
  offpeak: OffpeakWindow[];
};

type ModelEntry = {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  pricing: {
    input: string;
    cached_input: string;
    output: string;
    card_hour: string | null;
    currency: string;
    regions: RegionPricing[];
  } | null;
  regions: string[];
};

function offpeakOf(price: PriceRecord): OffpeakWindow[] {
  const { offpeakStart, offpeakEnd, offpeakTimezone, offpeakMultiplierBps } = price;
  if (
    offpeakStart === null ||
    offpeakEnd === null ||
    offpeakTimezone === null ||
    offpeakMultiplierBps === null
  ) {
    return [];
  }
  return [
    {
      start: offpeakStart,
      end: offpeakEnd,
      timezone: offpeakTimezone,
      multiplier_bps: offpeakMultiplierBps,
    },
  ];
}

function tokenPrices(price: PriceRecord) {
  return {
    input: formatMoney(price.inputPerMillion),
    cached_input: formatMoney(price.cachedInputPerMillion),
    output: formatMoney(price.outputPerMillion),
    card_hour: price.cardHourMicro === null ? null : formatMoney(price.cardHourMicro),
  };
}

function pricingView(
  prices: readonly PriceRecord[],
  model: string,
  homeRegion: string,
  regions: readonly string[],
): ModelEntry['pricing'] {
  const price = priceFor(prices, model, homeRegion);
  if (!price) {
    return null;
  }
  return {
    ...tokenPrices(price),
    currency: price.currency,
    regions: regions.flatMap((region) => {
      const regional = priceFor(prices, model, region);
      return regional ? [{ region, ...tokenPrices(regional), offpeak: offpeakOf(regional) }] : [];
    }),
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
      pricing: pricingView(prices, model.id, client.tenant.homeRegion ?? '', regions),
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

export function modelRouteDocs(): RouteDoc[] {
  const route = routeDocsFor('apiKey');
  return [
    route('get', '/v1/models', 'The models the key may use, with prices and regions'),
    route('get', '/v1/models/:id{.+}', 'One model the key may use'),
  ];
}

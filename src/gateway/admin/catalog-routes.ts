/**
 * Admin API for the supply side and its prices: providers (their token is shown only in the
 * answer that creates it) and what each earned (payouts and payout rates: payout-routes.ts), published price versions, the live backend
 * pool, and the approval that lets a provider's pending backend serve.
 */
import type { Hono } from 'hono';
import { currentPrices } from '../../billing/price-book.ts';
import type { PriceRecord } from '../../db/catalog.ts';
import type { Deps, HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { newId, newSecret } from '../../platform/identifiers.ts';
import { readJsonBody } from '../middleware/json-body.ts';
import { timeRangeQuery } from '../middleware/query-fields.ts';
import { type RouteDoc, routeDocsFor } from '../openapi/route-doc.ts';
import { earningsView } from '../provider/earnings-view.ts';
import { announceCatalogChange, changeBackend } from '../replicas/catalog-changes.ts';
import { createProviderSchema, putPriceSchema } from './admin-requests.ts';
import { moneyField } from './money-routes.ts';
import { currentProviderView, providerOrNotFound } from './payout-routes.ts';
import { gatewayRoutingView } from './routing-views.ts';
import { notFound } from './tenant-routes.ts';
import { backendView, listView, priceView, providerView } from './views.ts';

export function registerAdminCatalogRoutes(app: Hono<HonoEnv>, deps: Deps): void {
  app.post('/admin/v1/providers', async (c) => {
    const { value } = await readJsonBody(c, createProviderSchema);
    const token = newSecret('tbp');
    const provider = {
      id: newId('prv'),
      name: value.name,
      payoutBps: value.payout_bps,
      tokenHash: await deps.hashText(token),
      createdAtMs: deps.clock.nowMs(),
    };
    await deps.catalog.insertProvider(provider);
    return c.json({ ...(await currentProviderView(deps, provider)), token }, 201);
  });

  app.get('/admin/v1/providers', async (c) => {
    const [providers, rates] = await Promise.all([
      deps.catalog.listProviders(),
      deps.catalog.listPayoutRates(),
    ]);
    const nowMs = deps.clock.nowMs();
    return c.json(listView(providers.map((provider) => providerView(provider, rates, nowMs))));
  });

  app.get('/admin/v1/providers/:id/earnings', async (c) => {
    const provider = await providerOrNotFound(deps, c.req.param('id'));
    return c.json(await earningsView(deps, provider.id, c.req.query()));
  });

  app.put('/admin/v1/prices/:model{.+}', async (c) => {
    const model = c.req.param('model');
    if (model.length > 256) {
      throw new GatewayError('invalid_request', 'model names are at most 256 characters.', {
        param: 'model',
      });
    }
    const { value } = await readJsonBody(c, putPriceSchema);
    if (value.currency !== undefined && value.currency !== deps.config.currency) {
      throw new GatewayError(
        'invalid_request',
        `This deployment prices in ${deps.config.currency} only.`,
        { param: 'currency' },
      );
    }
    const nowMs = deps.clock.nowMs();
    const input = moneyField(value.input, 'input');
    const price: Omit<PriceRecord, 'version'> = {
      id: newId('prc'),
      model,
      region: value.region ?? '',
      inputPerMillion: input,
      cachedInputPerMillion:
        value.cached_input === undefined ? input : moneyField(value.cached_input, 'cached_input'),
      outputPerMillion: moneyField(value.output, 'output'),
      cardHourMicro: value.card_hour == null ? null : moneyField(value.card_hour, 'card_hour'),
      currency: deps.config.currency,
      effectiveAtMs: value.effective_at === undefined ? nowMs : Date.parse(value.effective_at),
      offpeakStart: value.offpeak?.start ?? null,
      offpeakEnd: value.offpeak?.end ?? null,
      offpeakTimezone: value.offpeak?.timezone ?? null,
      offpeakMultiplierBps: value.offpeak?.multiplier_bps ?? null,
      createdAtMs: nowMs,
    };
    await deps.catalog.ensureModel(model, nowMs);
    const stored = await deps.catalog.publishPrice(price);
    await deps.catalogCache.reload();
    await announceCatalogChange(deps, { kind: 'prices' });
    return c.json(priceView(stored), 201);
  });

  app.get('/admin/v1/prices', async (c) => {
    const prices = currentPrices(await deps.catalog.listPrices(), deps.clock.nowMs());
    return c.json(listView(prices.map(priceView)));
  });

  app.get('/admin/v1/backends', async (c) => {
    const records = await deps.catalog.listLiveBackends();
    const data = records.map((record) => backendView(record, deps.pool));
    return c.json(listView(data, { routing: gatewayRoutingView(deps) }));
  });

  // Idempotent: approving a backend that already serves (or drains) changes nothing.
  app.post('/admin/v1/backends/:id/approve', async (c) => {
    const id = c.req.param('id');
    const backend = await deps.catalog.getBackend(id);
    if (!backend) {
      throw notFound('backend', id);
    }
    if (backend.state !== 'pending') {
      return c.json(backendView(backend, deps.pool));
    }
    const approved = await changeBackend(deps, backend, { state: 'active' });
    return c.json(backendView(approved, deps.pool));
  });
}

export function adminCatalogRouteDocs(): RouteDoc[] {
  const route = routeDocsFor('admin');
  return [
    route('post', '/admin/v1/providers', 'Create a provider (its token is shown once)', {
      body: createProviderSchema,
      successStatus: 201,
    }),
    route('get', '/admin/v1/providers', 'List providers with their payout rates'),
    route('get', '/admin/v1/providers/:id/earnings', "A provider's earnings in a time range", {
      query: timeRangeQuery,
    }),
    route('put', '/admin/v1/prices/:model{.+}', 'Publish a price version for a model', {
      body: putPriceSchema,
      successStatus: 201,
    }),
    route('get', '/admin/v1/prices', 'The price book in force now'),
    route('get', '/admin/v1/backends', 'The live backend pool, with the routing state'),
    route('post', '/admin/v1/backends/:id/approve', "Approve a provider's pending backend"),
  ];
}

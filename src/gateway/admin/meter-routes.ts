/**
 * The prices of the storage and transport meters (API.md "The bank's three meters"): the admin
 * sets them (PUT /admin/v1/meters/storage, /admin/v1/meters/transport, read back at GET
 * /admin/v1/meters), and a client reads them before it pays (GET /v1/meters), beside the token
 * prices GET /v1/models shows. A new price replaces the older one of its meter and regions.
 */
import type { Hono } from 'hono';
import { currentMeterPrices } from '../../billing/meter-prices.ts';
import { kindOfMeter } from '../../billing/meters.ts';
import { formatMoney } from '../../billing/money.ts';
import type { MeterPriceRecord } from '../../db/catalog.ts';
import type { Deps, HonoEnv } from '../../deps.ts';
import { toRfc3339 } from '../../platform/clock.ts';
import { newId } from '../../platform/identifiers.ts';
import { requireClient } from '../middleware/authenticate.ts';
import { readJsonBody } from '../middleware/json-body.ts';
import { type RouteDoc, routeDocsFor } from '../openapi/route-doc.ts';
import { announceCatalogChange } from '../replicas/catalog-changes.ts';
import { putStorageMeterSchema, putTransportMeterSchema } from './admin-requests.ts';
import { moneyField } from './money-routes.ts';
import { listView } from './views.ts';

const unitOfMeter: Readonly<Record<string, string>> = {
  storage_gb_hour: 'GB-hour',
  transport_gb: 'GB',
};

export function meterPriceView(price: MeterPriceRecord, currency: string) {
  return {
    object: 'meter_price',
    meter: price.meter,
    kind: kindOfMeter[price.meter],
    unit: unitOfMeter[price.meter] ?? null,
    price: formatMoney(price.priceMicro),
    currency,
    from_region: price.fromRegion === '' ? null : price.fromRegion,
    to_region: price.toRegion === '' ? null : price.toRegion,
    created_at: toRfc3339(price.createdAtMs),
  };
}

async function meterPricesView(deps: Deps) {
  const current = currentMeterPrices(await deps.catalog.listMeterPrices());
  return listView(current.map((price) => meterPriceView(price, deps.config.currency)));
}

async function publish(deps: Deps, price: Omit<MeterPriceRecord, 'id' | 'createdAtMs'>) {
  const stored: MeterPriceRecord = { ...price, id: newId('mtp'), createdAtMs: deps.clock.nowMs() };
  await deps.catalog.publishMeterPrice(stored);
  await deps.catalogCache.reload();
  await announceCatalogChange(deps, { kind: 'prices' });
  return meterPriceView(stored, deps.config.currency);
}

export function registerMeterRoutes(app: Hono<HonoEnv>, deps: Deps): void {
  app.put('/admin/v1/meters/storage', async (c) => {
    const { value } = await readJsonBody(c, putStorageMeterSchema);
    const priceMicro = moneyField(value.storage_gb_hour, 'storage_gb_hour');
    return c.json(
      await publish(deps, { meter: 'storage_gb_hour', fromRegion: '', toRegion: '', priceMicro }),
      201,
    );
  });

  app.put('/admin/v1/meters/transport', async (c) => {
    const { value } = await readJsonBody(c, putTransportMeterSchema);
    const priceMicro = moneyField(value.transport_gb, 'transport_gb');
    const regions = { fromRegion: value.from_region ?? '', toRegion: value.to_region ?? '' };
    return c.json(await publish(deps, { meter: 'transport_gb', ...regions, priceMicro }), 201);
  });

  app.get('/admin/v1/meters', async (c) => c.json(await meterPricesView(deps)));
  app.get('/v1/meters', requireClient, async (c) => c.json(await meterPricesView(deps)));
}

export function meterRouteDocs(): RouteDoc[] {
  const route = routeDocsFor('admin');
  return [
    route('put', '/admin/v1/meters/storage', 'Price a GB held for an hour', {
      body: putStorageMeterSchema,
      successStatus: 201,
    }),
    route(
      'put',
      '/admin/v1/meters/transport',
      'Price a GB carried, by default or per region pair',
      {
        body: putTransportMeterSchema,
        successStatus: 201,
      },
    ),
    route('get', '/admin/v1/meters', 'The storage and transport prices in force'),
    routeDocsFor('apiKey')('get', '/v1/meters', 'The storage and transport prices in force'),
  ];
}

/**
 * Admin API for what the platform owes its providers: payouts (money owed leaves for the
 * provider's bank: `provider_payable:{provider}` to `cash`, idempotent by reference, never more
 * than is owed) and their list, and the provider's payout rate, versioned from a date: a request
 * earns at the rate in force when it was admitted, as its price is pinned then.
 */
import type { Hono } from 'hono';
import { formatMoney } from '../../billing/money.ts';
import type { ProviderRecord } from '../../db/catalog.ts';
import type { Deps, HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { readJsonBody } from '../middleware/json-body.ts';
import { type RouteDoc, routeDocsFor } from '../openapi/route-doc.ts';
import { payoutRateSchema, payoutSchema } from './admin-requests.ts';
import { moneyField } from './money-routes.ts';
import { withReferenceLock } from './reference-lock.ts';
import { notFound } from './tenant-routes.ts';
import { listView, payoutView, providerView } from './views.ts';

export async function providerOrNotFound(deps: Deps, id: string): Promise<ProviderRecord> {
  const provider = await deps.catalog.getProvider(id);
  if (!provider) {
    throw notFound('provider', id);
  }
  return provider;
}

/** The provider as the API shows it: with its rate in force now and every version of it. */
export async function currentProviderView(deps: Deps, provider: ProviderRecord) {
  const rates = await deps.catalog.listPayoutRates(provider.id);
  return providerView(provider, rates, deps.clock.nowMs());
}

export function registerAdminPayoutRoutes(app: Hono<HonoEnv>, deps: Deps): void {
  app.put('/admin/v1/providers/:id/payout-rate', async (c) => {
    const provider = await providerOrNotFound(deps, c.req.param('id'));
    const { value } = await readJsonBody(c, payoutRateSchema);
    const nowMs = deps.clock.nowMs();
    const effectiveAtMs = value.effective_at === undefined ? nowMs : Date.parse(value.effective_at);
    if (effectiveAtMs < nowMs) {
      throw new GatewayError(
        'invalid_request',
        'effective_at must not be in the past: requests already admitted keep the rate they were admitted at.',
        { param: 'effective_at' },
      );
    }
    await deps.catalog.publishPayoutRate({
      providerId: provider.id,
      payoutBps: value.payout_bps,
      effectiveAtMs,
      createdAtMs: nowMs,
    });
    return c.json(await currentProviderView(deps, provider));
  });

  app.post('/admin/v1/providers/:id/payouts', async (c) => {
    const provider = await providerOrNotFound(deps, c.req.param('id'));
    const { value } = await readJsonBody(c, payoutSchema);
    const amountMicro = moneyField(value.amount, 'amount');
    if (amountMicro === 0n) {
      throw new GatewayError('invalid_request', 'amount: a payout must be above zero.', {
        param: 'amount',
      });
    }
    const result = await withReferenceLock(deps, `payout:${provider.id}:${value.reference}`, () =>
      deps.ledger.payout({
        providerId: provider.id,
        amountMicro,
        reference: value.reference,
        note: value.note ?? null,
        atMs: deps.clock.nowMs(),
      }),
    );
    return c.json(
      {
        ...payoutView(result.payout),
        unpaid: formatMoney(result.unpaidMicro),
        duplicate: result.duplicate,
      },
      result.duplicate ? 200 : 201,
    );
  });

  app.get('/admin/v1/providers/:id/payouts', async (c) => {
    const provider = await providerOrNotFound(deps, c.req.param('id'));
    const [payouts, balance] = await Promise.all([
      deps.ledger.payouts(provider.id, deps.config.limits.ledgerEntriesMax),
      deps.ledger.providerBalance(provider.id),
    ]);
    return c.json(
      listView(payouts.map(payoutView), {
        provider_id: provider.id,
        earned: formatMoney(balance.earnedMicro),
        paid: formatMoney(balance.paidMicro),
        unpaid: formatMoney(balance.unpaidMicro),
        currency: deps.config.currency,
      }),
    );
  });
}

export function adminPayoutRouteDocs(): RouteDoc[] {
  const route = routeDocsFor('admin');
  return [
    route(
      'put',
      '/admin/v1/providers/:id/payout-rate',
      "Set a provider's payout rate from a date",
      {
        body: payoutRateSchema,
      },
    ),
    route(
      'post',
      '/admin/v1/providers/:id/payouts',
      'Record a payout to a provider, once per reference',
      {
        body: payoutSchema,
        byReference: true,
        successStatus: 201,
      },
    ),
    route(
      'get',
      '/admin/v1/providers/:id/payouts',
      "A provider's payouts, earned, paid and unpaid",
    ),
  ];
}

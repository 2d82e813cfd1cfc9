/**
 * Admin API for a tenant's money: top-ups, coupon grants and adjustments (credits or debits with a
 * reason; all idempotent by reference, and run one at a time per reference across replicas:
 * reference-lock.ts), voids, a tenant's usage and ledger entries, and the ledger check. Every
 * movement goes through the Ledger port as one balanced transaction. Programs' statements are
 * program-routes.ts; providers' payouts, payout-routes.ts.
 */
import type { Hono } from 'hono';
import { formatMoney, parseMoney } from '../../billing/money.ts';
import type { Limits } from '../../config.ts';
import type { Deps, HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { newId } from '../../platform/identifiers.ts';
import { readJsonBody } from '../middleware/json-body.ts';
import { usageQuery } from '../middleware/query-fields.ts';
import { jsonOrCsv, type RouteDoc, routeDocsFor } from '../openapi/route-doc.ts';
import { adjustmentSchema, grantCouponSchema, topUpSchema } from './admin-requests.ts';
import { withReferenceLock } from './reference-lock.ts';
import { notFound, tenantOrNotFound } from './tenant-routes.ts';
import { formatOf } from './usage-export.ts';
import {
  boundedTimeRangeOf,
  pageResponse,
  readAhead,
  usagePageOf,
  usagePages,
} from './usage-pages.ts';
import { adjustmentView, couponView, ledgerEntryView, listView } from './views.ts';

export function moneyField(text: string, param: string): bigint {
  const parsed = parseMoney(text);
  if (!parsed.ok) {
    throw new GatewayError('invalid_request', `${param}: ${parsed.message}`, { param });
  }
  return parsed.micro;
}

/** A decimal amount with an optional minus sign ("-5.00"), never zero. */
export function signedMoneyField(text: string, param: string): bigint {
  const negative = text.startsWith('-');
  const micro = moneyField(negative ? text.slice(1) : text, param);
  if (micro === 0n) {
    throw new GatewayError('invalid_request', `${param} must not be zero.`, { param });
  }
  return negative ? -micro : micro;
}

export function registerAdminMoneyRoutes(app: Hono<HonoEnv>, deps: Deps): void {
  const couponSchema = grantCouponSchema(deps.config.limits);

  app.post('/admin/v1/tenants/:id/topups', async (c) => {
    const tenant = await tenantOrNotFound(deps, c.req.param('id'));
    const { value } = await readJsonBody(c, topUpSchema);
    const amountMicro = moneyField(value.amount, 'amount');
    if (amountMicro === 0n) {
      throw new GatewayError('invalid_request', 'amount: a top-up must be above zero.', {
        param: 'amount',
      });
    }
    const result = await withReferenceLock(deps, `topup:${tenant.id}:${value.reference}`, () =>
      deps.ledger.topUp({
        tenantId: tenant.id,
        amountMicro,
        reference: value.reference,
        atMs: deps.clock.nowMs(),
      }),
    );
    return c.json(
      {
        id: `txn_${result.transactionId}`,
        object: 'topup',
        tenant_id: tenant.id,
        amount: value.amount,
        reference: value.reference,
        balance: formatMoney(result.walletBalanceMicro),
        duplicate: result.duplicate,
      },
      result.duplicate ? 200 : 201,
    );
  });

  app.post('/admin/v1/tenants/:id/coupons', async (c) => {
    const tenant = await tenantOrNotFound(deps, c.req.param('id'));
    const { value } = await readJsonBody(c, couponSchema);
    const nowMs = deps.clock.nowMs();
    const startsAtMs = value.starts_at === undefined ? nowMs : Date.parse(value.starts_at);
    const expiresAtMs = value.expires_at == null ? null : Date.parse(value.expires_at);
    if (expiresAtMs !== null && expiresAtMs <= startsAtMs) {
      throw new GatewayError('invalid_request', 'expires_at must be after starts_at.', {
        param: 'expires_at',
      });
    }
    const grant = {
      id: newId('cpn'),
      tenantId: tenant.id,
      kind: value.kind,
      program: value.program ?? 'platform',
      amountMicro: moneyField(value.amount, 'amount'),
      coverageBps: value.coverage_bps ?? 10_000,
      models: value.models ?? null,
      regions: value.regions ?? null,
      priority: value.priority ?? 50,
      startsAtMs,
      expiresAtMs,
      reference: value.reference,
      atMs: nowMs,
    };
    const granted = await withReferenceLock(deps, `grant:${tenant.id}:${value.reference}`, () =>
      deps.ledger.grantCoupon(grant),
    );
    return c.json(
      { ...couponView(granted.coupon), duplicate: granted.duplicate },
      granted.duplicate ? 200 : 201,
    );
  });

  app.post('/admin/v1/tenants/:id/adjustments', async (c) => {
    const tenant = await tenantOrNotFound(deps, c.req.param('id'));
    const { value } = await readJsonBody(c, adjustmentSchema);
    const amountMicro = signedMoneyField(value.amount, 'amount');
    const result = await withReferenceLock(deps, `adjust:${tenant.id}:${value.reference}`, () =>
      deps.ledger.adjust({
        tenantId: tenant.id,
        amountMicro,
        reason: value.reason,
        reference: value.reference,
        atMs: deps.clock.nowMs(),
      }),
    );
    return c.json(
      {
        ...adjustmentView(result.adjustment),
        balance: formatMoney(result.walletBalanceMicro),
        duplicate: result.duplicate,
      },
      result.duplicate ? 200 : 201,
    );
  });

  app.get('/admin/v1/tenants/:id/adjustments', async (c) => {
    const tenant = await tenantOrNotFound(deps, c.req.param('id'));
    const adjustments = await deps.ledger.adjustments(
      tenant.id,
      deps.config.limits.ledgerEntriesMax,
    );
    return c.json(listView(adjustments.map(adjustmentView)));
  });

  app.delete('/admin/v1/coupons/:id', async (c) => {
    const id = c.req.param('id');
    const voided = await deps.ledger.voidCoupon(id, deps.clock.nowMs());
    if (!voided) {
      throw notFound('coupon', id);
    }
    return c.json(couponView(voided));
  });

  app.get('/admin/v1/tenants/:id/usage', async (c) => {
    const tenant = await tenantOrNotFound(deps, c.req.param('id'));
    const query = c.req.query();
    const range = boundedTimeRangeOf(query, deps.clock.nowMs(), deps.config.limits);
    const page = usagePageOf(query, deps.config.limits);
    const format = formatOf(query.format, 'json');
    const records = await deps.ledger.usage(tenant.id, range, readAhead(page));
    return pageResponse(c, records, page.limit, format, usagePages(`usage-${tenant.id}.csv`));
  });

  app.get('/admin/v1/tenants/:id/ledger', async (c) => {
    const tenant = await tenantOrNotFound(deps, c.req.param('id'));
    const entries = await deps.ledger.entries(tenant.id, deps.config.limits.ledgerEntriesMax);
    return c.json(listView(entries.map(ledgerEntryView)));
  });

  app.get('/admin/v1/ledger/check', async (c) => c.json(await deps.ledger.check()));
}

export function adminMoneyRouteDocs(limits: Limits): RouteDoc[] {
  const route = routeDocsFor('admin');
  return [
    route(
      'post',
      '/admin/v1/tenants/:id/topups',
      "Credit a tenant's prepaid balance, once per reference",
      {
        body: topUpSchema,
        byReference: true,
        successStatus: 201,
      },
    ),
    route('post', '/admin/v1/tenants/:id/coupons', 'Grant a compute, storage or transport coupon', {
      body: grantCouponSchema(limits),
      byReference: true,
      successStatus: 201,
    }),
    route(
      'post',
      '/admin/v1/tenants/:id/adjustments',
      "Credit or debit a tenant's balance with a reason",
      {
        body: adjustmentSchema,
        byReference: true,
        successStatus: 201,
      },
    ),
    route('get', '/admin/v1/tenants/:id/adjustments', "A tenant's adjustments"),
    route('delete', '/admin/v1/coupons/:id', "Void a coupon's remaining value"),
    route('get', '/admin/v1/tenants/:id/usage', "A tenant's usage records, paged, as JSON or CSV", {
      query: usageQuery,
      successTypes: jsonOrCsv,
    }),
    route('get', '/admin/v1/tenants/:id/ledger', "A tenant's ledger entries"),
    route('get', '/admin/v1/ledger/check', 'Check that every ledger invariant holds'),
  ];
}

/**
 * What an SME sees of its own money with its API key: GET /v1/account (balance, holds, coupons
 * with what each has paid, today's usage: one row of the per-day totals, never a scan), its usage
 * records (paged, bounded in time), and the statement of a subsidy program's coupons that it hands to the issuer.
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import type { CouponState } from '../../billing/ledger.ts';
import { formatMoney } from '../../billing/money.ts';
import type { UsageDayRecord } from '../../db/catalog.ts';
import type { HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { toRfc3339 } from '../../platform/clock.ts';
import { formatOf } from '../admin/usage-export.ts';
import {
  boundedTimeRangeOf,
  pageResponse,
  readAhead,
  statementPageOf,
  statementPages,
  usagePageOf,
  usagePages,
} from '../admin/usage-pages.ts';
import { requireClient } from '../middleware/authenticate.ts';
import { usageQuery } from '../middleware/query-fields.ts';
import { jsonOrCsv, type RouteDoc, routeDocsFor } from '../openapi/route-doc.ts';

const dayMs = 86_400_000;

function usageTodayView(today: UsageDayRecord | undefined) {
  return {
    requests: today?.requests ?? 0,
    input_tokens: today?.inputTokens ?? 0,
    cached_input_tokens: today?.cachedInputTokens ?? 0,
    output_tokens: today?.outputTokens ?? 0,
    cost: formatMoney(today?.cost ?? 0n),
  };
}

/**
 * An active coupon as its tenant sees it: what was granted, what it has paid so far (granted less
 * what is left and what is held for requests in flight), and when it expires.
 */
function accountCouponView(coupon: CouponState) {
  return {
    id: coupon.id,
    kind: coupon.kind,
    program: coupon.program,
    amount: formatMoney(coupon.amountMicro),
    remaining: formatMoney(coupon.remainingMicro),
    held: formatMoney(coupon.heldMicro),
    paid: formatMoney(coupon.amountMicro - coupon.remainingMicro - coupon.heldMicro),
    coverage_bps: coupon.coverageBps,
    starts_at: toRfc3339(coupon.startsAtMs),
    expires_at: coupon.expiresAtMs === null ? null : toRfc3339(coupon.expiresAtMs),
    scope: { models: coupon.models, regions: coupon.regions },
  };
}

export function registerAccountRoutes(app: Hono<HonoEnv>): void {
  app.get('/v1/account', requireClient, async (c) => {
    const deps = c.get('deps');
    const { tenant } = c.get('client');
    const nowMs = deps.clock.nowMs();
    const money = await deps.ledger.tenantMoney(tenant.id, nowMs);
    const today = await deps.catalog.usageOfDay(tenant.id, Math.floor(nowMs / dayMs));
    return c.json({
      object: 'account',
      tenant_id: tenant.id,
      balance: formatMoney(money.walletBalanceMicro),
      holds: formatMoney(money.holdsMicro),
      currency: deps.config.currency,
      coupons: money.coupons.filter((coupon) => coupon.status === 'active').map(accountCouponView),
      usage_today: usageTodayView(today),
    });
  });

  app.get('/v1/account/usage', requireClient, async (c) => {
    const deps = c.get('deps');
    const { tenant } = c.get('client');
    const query = c.req.query();
    const range = boundedTimeRangeOf(query, deps.clock.nowMs(), deps.config.limits);
    const page = usagePageOf(query, deps.config.limits);
    const records = await deps.ledger.usage(tenant.id, range, readAhead(page));
    const format = formatOf(query.format, 'json');
    return pageResponse(c, records, page.limit, format, usagePages('usage.csv'));
  });

  app.get('/v1/account/statement', requireClient, async (c) => {
    const deps = c.get('deps');
    const program = c.req.query('program');
    if (program === undefined || program === '') {
      throw new GatewayError(
        'invalid_request',
        'program is required: the subsidy program of the statement.',
        {
          param: 'program',
        },
      );
    }
    const query = c.req.query();
    const page = statementPageOf(query, deps.config.limits);
    const range = boundedTimeRangeOf(query, deps.clock.nowMs(), deps.config.limits);
    const tenantId = c.get('client').tenant.id;
    const rows = await deps.ledger.programStatement(program, range, tenantId, readAhead(page));
    const format = formatOf(query.format, 'csv');
    return pageResponse(c, rows, page.limit, format, statementPages(`statement-${program}.csv`));
  });
}

export function accountRouteDocs(): RouteDoc[] {
  const route = routeDocsFor('apiKey');
  return [
    route('get', '/v1/account', "Balance, holds, coupons and usage today of the key's tenant"),
    route('get', '/v1/account/usage', 'Usage records, paged, as JSON or CSV', {
      query: usageQuery,
      successTypes: jsonOrCsv,
    }),
    route('get', '/v1/account/statement', "A subsidy program's statement of the tenant's coupons", {
      query: usageQuery.extend({ program: z.string().min(1) }),
      successTypes: jsonOrCsv,
    }),
  ];
}

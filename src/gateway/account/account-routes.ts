/**
 * What an SME sees of its own money with its API key: GET /v1/account (balance, holds, coupons,
 * today's usage), its usage records, and the statement of a subsidy program's coupons that it
 * hands to the issuer.
 */
import type { Hono } from 'hono';
import type { UsageRecord } from '../../billing/ledger.ts';
import { formatMoney } from '../../billing/money.ts';
import type { HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { toRfc3339 } from '../../platform/clock.ts';
import {
  csvResponse,
  formatOf,
  statementCsv,
  statementView,
  timeRangeOf,
  usageCsv,
} from '../admin/usage-export.ts';
import { listView, usageView } from '../admin/views.ts';
import { requireClient } from '../middleware/authenticate.ts';

const dayMs = 86_400_000;

function usageTotals(records: readonly UsageRecord[]) {
  let inputTokens = 0;
  let outputTokens = 0;
  let costMicro = 0n;
  for (const record of records) {
    inputTokens += record.inputTokens ?? 0;
    outputTokens += record.outputTokens ?? 0;
    costMicro += record.costMicro;
  }
  return {
    requests: records.length,
    input_tokens: inputTokens,
    output_tokens: outputTokens,
    cost: formatMoney(costMicro),
  };
}

export function registerAccountRoutes(app: Hono<HonoEnv>): void {
  app.get('/v1/account', requireClient, async (c) => {
    const deps = c.get('deps');
    const { tenant } = c.get('client');
    const nowMs = deps.clock.nowMs();
    const money = await deps.ledger.tenantMoney(tenant.id, nowMs);
    const dayStartMs = nowMs - (nowMs % dayMs);
    const today = await deps.ledger.usage(tenant.id, { fromMs: dayStartMs, toMs: nowMs + 1 });
    return c.json({
      object: 'account',
      tenant_id: tenant.id,
      balance: formatMoney(money.walletBalanceMicro),
      holds: formatMoney(money.holdsMicro),
      currency: deps.config.currency,
      coupons: money.coupons
        .filter((coupon) => coupon.status === 'active')
        .map((coupon) => ({
          id: coupon.id,
          kind: coupon.kind,
          program: coupon.program,
          remaining: formatMoney(coupon.remainingMicro),
          coverage_bps: coupon.coverageBps,
          expires_at: coupon.expiresAtMs === null ? null : toRfc3339(coupon.expiresAtMs),
          scope: { models: coupon.models, regions: coupon.regions },
        })),
      usage_today: usageTotals(today.filter((record) => record.outcome !== 'rejected')),
    });
  });

  app.get('/v1/account/usage', requireClient, async (c) => {
    const deps = c.get('deps');
    const { tenant } = c.get('client');
    const range = timeRangeOf(c.req.query(), deps.clock.nowMs());
    const records = await deps.ledger.usage(tenant.id, range);
    return formatOf(c.req.query('format'), 'json') === 'csv'
      ? csvResponse(usageCsv(records), 'usage.csv')
      : c.json(listView(records.map(usageView)));
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
    const range = timeRangeOf(c.req.query(), deps.clock.nowMs());
    const rows = await deps.ledger.programStatement(program, range, c.get('client').tenant.id);
    return formatOf(c.req.query('format'), 'csv') === 'csv'
      ? csvResponse(statementCsv(rows), `statement-${program}.csv`)
      : c.json(listView(rows.map(statementView)));
  });
}

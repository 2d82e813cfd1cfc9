/**
 * Admin API for subsidy programs: the list of programs (their coupons, tenants and what they
 * granted, per kind), and a program's statement over a period. The statement is by default the
 * summary a subsidy office uses (per tenant and kind: granted, used, expired, voided, remaining,
 * the value of the requests co-paid; totals; reconciled with the ledger), as JSON or CSV; with
 * `?detail=lines` it is the paged list of every charge the program's coupons paid, as before.
 */
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { Deps, HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { usageQuery } from '../middleware/query-fields.ts';
import { jsonOrCsv, type RouteDoc, routeDocsFor } from '../openapi/route-doc.ts';
import {
  programListingView,
  programStatementCsv,
  programStatementView,
} from './program-statement-view.ts';
import { csvResponse, formatOf, timeRangeOf } from './usage-export.ts';
import {
  boundedTimeRangeOf,
  pageResponse,
  readAhead,
  statementPageOf,
  statementPages,
} from './usage-pages.ts';
import { listView } from './views.ts';

const statementDetail = z.enum(['summary', 'lines']);

/** The statement's range, format, tenant and detail; line items are paged. */
const statementQuery = usageQuery.extend({
  tenant_id: z.string().optional(),
  detail: statementDetail.optional(),
});

type StatementDetail = z.infer<typeof statementDetail>;

function detailOf(query: Record<string, string>): StatementDetail {
  const parsed = statementDetail.safeParse(query.detail ?? 'summary');
  if (!parsed.success) {
    throw new GatewayError('invalid_request', 'detail must be summary or lines.', {
      param: 'detail',
    });
  }
  const detail = parsed.data;
  if (detail === 'summary' && (query.limit !== undefined || query.after !== undefined)) {
    throw new GatewayError(
      'invalid_request',
      'limit and after page the line items: ask for them with detail=lines.',
      { param: query.limit === undefined ? 'after' : 'limit' },
    );
  }
  return detail;
}

/** Every charge the program's coupons paid, paged (CSV unless format=json). */
async function statementLines(c: Context<HonoEnv>, deps: Deps, program: string) {
  const query = c.req.query();
  const page = statementPageOf(query, deps.config.limits);
  const range = boundedTimeRangeOf(query, deps.clock.nowMs(), deps.config.limits);
  const rows = await deps.ledger.programStatement(program, range, query.tenant_id, readAhead(page));
  const format = formatOf(query.format, 'csv');
  return pageResponse(c, rows, page.limit, format, statementPages(`statement-${program}.csv`));
}

async function tenantNamesOf(deps: Deps, tenantIds: readonly string[]) {
  const tenants = await Promise.all(
    [...new Set(tenantIds)].map((id) => deps.catalog.getTenant(id)),
  );
  return new Map(tenants.flatMap((tenant) => (tenant ? [[tenant.id, tenant.name]] : [])));
}

/** The summary over `?from` (default: the beginning) to `?to` (default: now), JSON or CSV. */
async function statementSummary(c: Context<HonoEnv>, deps: Deps, program: string) {
  const query = c.req.query();
  const range = timeRangeOf(query, deps.clock.nowMs());
  const format = formatOf(query.format, 'json');
  const summary = await deps.ledger.programSummary(program, range, query.tenant_id);
  if (!summary) {
    throw new GatewayError(
      'not_found',
      `No program '${program.slice(0, 80)}': it has granted no coupon.`,
    );
  }
  const names = await tenantNamesOf(
    deps,
    summary.lines.map((line) => line.tenantId),
  );
  const view = programStatementView(summary, deps.config.currency, names);
  if (format === 'json') {
    return c.json(view);
  }
  const response = csvResponse(programStatementCsv(view), `statement-${program}.csv`);
  response.headers.set('x-tokenbank-reconciled', String(view.reconciliation.ok));
  return response;
}

export function registerAdminProgramRoutes(app: Hono<HonoEnv>, deps: Deps): void {
  app.get('/admin/v1/programs', async (c) =>
    c.json(listView((await deps.ledger.programs()).map(programListingView))),
  );

  app.get('/admin/v1/programs/:program/statement', async (c) => {
    const program = c.req.param('program');
    return detailOf(c.req.query()) === 'lines'
      ? statementLines(c, deps, program)
      : statementSummary(c, deps, program);
  });
}

export function adminProgramRouteDocs(): RouteDoc[] {
  const route = routeDocsFor('admin');
  return [
    route('get', '/admin/v1/programs', 'Subsidy programs and what each granted, per kind'),
    route(
      'get',
      '/admin/v1/programs/:program/statement',
      "A program's statement: summary or line items",
      {
        query: statementQuery,
        successTypes: jsonOrCsv,
      },
    ),
  ];
}

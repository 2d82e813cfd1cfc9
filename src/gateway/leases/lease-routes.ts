/**
 * Card-hour lease routes: a tenant leases with its API key (POST /v1/leases, GET pages of them,
 * DELETE to end early), or the operator leases for it (POST /admin/v1/tenants/{id}/leases; app.ts
 * authenticates /admin). A lease of another tenant answers 404, like one that does not exist.
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import type { TenantRecord } from '../../db/catalog.ts';
import type { Deps, HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { notFound, tenantOrNotFound } from '../admin/tenant-routes.ts';
import { requireClient } from '../middleware/authenticate.ts';
import { readJsonBody } from '../middleware/json-body.ts';
import { listPageOf } from '../middleware/list-page.ts';
import { listPageQuery } from '../middleware/query-fields.ts';
import { type RouteDoc, routeDocsFor } from '../openapi/route-doc.ts';
import { closeLease } from './close-lease.ts';
import { leaseView } from './lease-view.ts';
import { openLease } from './open-lease.ts';

const leaseSchema = z.strictObject({
  model: z.string().min(1).max(256),
  region: z.string().min(1).max(64).optional(),
  accelerators: z.number().int().min(1).max(4_096),
  hours: z
    .number()
    .int()
    .min(1)
    .max(24 * 366),
  starts_at: z.iso.datetime({ offset: true }).optional(),
});

/** The lease `?after` names: one of the tenant's leases, as the list shows them (paid). */
async function cursorLease(deps: Deps, tenantId: string, id: string) {
  const lease = await deps.leases.get(id);
  if (!lease || lease.paidAtMs === null || lease.tenantId !== tenantId) {
    throw new GatewayError('invalid_request', `after: '${id}' is not one of your leases.`, {
      param: 'after',
    });
  }
  return lease;
}

async function createLease(deps: Deps, tenant: TenantRecord, body: z.infer<typeof leaseSchema>) {
  const nowMs = deps.clock.nowMs();
  const startsAtMs = body.starts_at === undefined ? nowMs : Date.parse(body.starts_at);
  if (startsAtMs < nowMs - 60_000) {
    throw new GatewayError('invalid_request', 'starts_at is in the past.', { param: 'starts_at' });
  }
  const lease = await openLease(deps, tenant, {
    model: body.model,
    region: body.region,
    accelerators: body.accelerators,
    hours: body.hours,
    startsAtMs: Math.max(startsAtMs, nowMs),
  });
  return leaseView(lease, nowMs);
}

export function registerLeaseRoutes(app: Hono<HonoEnv>, deps: Deps): void {
  app.post('/v1/leases', requireClient, async (c) => {
    const { value } = await readJsonBody(c, leaseSchema);
    return c.json(await createLease(deps, c.get('client').tenant, value), 201);
  });

  app.post('/admin/v1/tenants/:id/leases', async (c) => {
    const tenant = await tenantOrNotFound(deps, c.req.param('id'));
    const { value } = await readJsonBody(c, leaseSchema);
    return c.json(await createLease(deps, tenant, value), 201);
  });

  app.get('/v1/leases', requireClient, async (c) => {
    const tenantId = c.get('client').tenant.id;
    const page = listPageOf(deps.config.limits, c.req.query());
    const after =
      page.after === undefined ? undefined : await cursorLease(deps, tenantId, page.after);
    const found = await deps.leases.listOfTenant(tenantId, { limit: page.limit + 1, after });
    const nowMs = deps.clock.nowMs();
    const shown = found.slice(0, page.limit).map((lease) => leaseView(lease, nowMs));
    return c.json({
      object: 'list',
      data: shown,
      first_id: shown[0]?.id ?? null,
      last_id: shown.at(-1)?.id ?? null,
      has_more: found.length > page.limit,
    });
  });

  app.delete('/v1/leases/:id', requireClient, async (c) => {
    const id = c.req.param('id');
    const lease = await deps.leases.get(id);
    if (!lease || lease.paidAtMs === null || lease.tenantId !== c.get('client').tenant.id) {
      throw notFound('lease', id);
    }
    const nowMs = deps.clock.nowMs();
    if (lease.settledAtMs !== null || !(await deps.leases.endEarly(id, nowMs))) {
      throw new GatewayError('conflict', `Lease '${id}' has already ended.`);
    }
    const refundedMicro = await closeLease(deps, { ...lease, endedAtMs: nowMs });
    await deps.leaseRegistry.reload();
    return c.json(leaseView({ ...lease, endedAtMs: nowMs }, nowMs, refundedMicro));
  });
}

export function leaseRouteDocs(): RouteDoc[] {
  const route = routeDocsFor('apiKey');
  return [
    route('post', '/v1/leases', 'Lease whole backends by the card-hour, paid up front', {
      body: leaseSchema,
      successStatus: 201,
    }),
    routeDocsFor('admin')('post', '/admin/v1/tenants/:id/leases', 'Lease card-hours for a tenant', {
      body: leaseSchema,
      successStatus: 201,
    }),
    route('get', '/v1/leases', "The tenant's leases, paged", { query: listPageQuery }),
    route('delete', '/v1/leases/:id', 'End a lease early, refunding the unused hours'),
  ];
}

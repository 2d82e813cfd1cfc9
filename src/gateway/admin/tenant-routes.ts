/**
 * Admin API for tenants and their keys: create, list, read and change a tenant (its regions,
 * name, clamp), issue a key (its secret is shown only in the answer that creates it), change a
 * key's limits, revoke a key. A change reaches every replica's cached credentials at once.
 */
import type { Hono } from 'hono';
import type { Limits } from '../../config.ts';
import type { TenantChanges } from '../../db/catalog.ts';
import type { Deps, HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { newId } from '../../platform/identifiers.ts';
import { readJsonBody } from '../middleware/json-body.ts';
import { listPageOf } from '../middleware/list-page.ts';
import { listPageQuery } from '../middleware/query-fields.ts';
import { type RouteDoc, routeDocsFor } from '../openapi/route-doc.ts';
import { announceCatalogChange } from '../replicas/catalog-changes.ts';
import {
  changeKeySchema,
  changeTenantSchema,
  createKeySchema,
  createTenantSchema,
} from './admin-requests.ts';
import { issueApiKey, revokeApiKey } from './api-key-writes.ts';
import { keyView, listView, tenantMoneyView } from './views.ts';

export function notFound(what: string, id: string): GatewayError {
  return new GatewayError('not_found', `No ${what} with id '${id.slice(0, 80)}'.`);
}

export async function tenantOrNotFound(deps: Deps, id: string) {
  const tenant = await deps.catalog.getTenant(id);
  if (!tenant) {
    throw notFound('tenant', id);
  }
  return tenant;
}

function checkHomeRegion(homeRegion: string | null, allowedRegions: string[] | null): void {
  if (homeRegion !== null && allowedRegions !== null && !allowedRegions.includes(homeRegion)) {
    throw new GatewayError('invalid_request', 'home_region must be one of allowed_regions.', {
      param: 'home_region',
    });
  }
}

export function registerAdminTenantRoutes(app: Hono<HonoEnv>, deps: Deps): void {
  const tenantSchema = createTenantSchema(deps.config.limits);
  const keySchema = createKeySchema(deps.config.limits);
  const tenantChangeSchema = changeTenantSchema(deps.config.limits);
  const keyChangeSchema = changeKeySchema(deps.config.limits);
  const { currency } = deps.config;

  app.post('/admin/v1/tenants', async (c) => {
    const { value } = await readJsonBody(c, tenantSchema);
    const allowedRegions = value.allowed_regions ?? null;
    const homeRegion = value.home_region ?? null;
    checkHomeRegion(homeRegion, allowedRegions);
    const tenant = {
      id: newId('ten'),
      name: value.name,
      homeRegion,
      allowedRegions,
      allowMaxTokensClamp: value.allow_max_tokens_clamp ?? false,
      allowKeyManagement: value.allow_key_management ?? false,
      createdAtMs: deps.clock.nowMs(),
    };
    await deps.catalog.insertTenant(tenant);
    const money = await deps.ledger.tenantMoney(tenant.id, deps.clock.nowMs());
    return c.json(tenantMoneyView(tenant, currency, money), 201);
  });

  app.get('/admin/v1/tenants', async (c) => {
    const page = listPageOf(deps.config.limits, c.req.query());
    const tenants = await deps.catalog.listTenants({ ...page, limit: page.limit + 1 });
    const shown = tenants.slice(0, page.limit);
    const hasMore = tenants.length > page.limit;
    const views = await Promise.all(
      shown.map(async (tenant) =>
        tenantMoneyView(
          tenant,
          currency,
          await deps.ledger.tenantMoney(tenant.id, deps.clock.nowMs()),
        ),
      ),
    );
    return c.json(
      listView(views, {
        has_more: hasMore,
        next_cursor: hasMore ? (shown.at(-1)?.id ?? null) : null,
      }),
    );
  });

  app.get('/admin/v1/tenants/:id', async (c) => {
    const tenant = await tenantOrNotFound(deps, c.req.param('id'));
    const money = await deps.ledger.tenantMoney(tenant.id, deps.clock.nowMs());
    return c.json(tenantMoneyView(tenant, currency, money));
  });

  app.patch('/admin/v1/tenants/:id', async (c) => {
    const tenant = await tenantOrNotFound(deps, c.req.param('id'));
    const { value } = await readJsonBody(c, tenantChangeSchema);
    const changes: TenantChanges = {
      ...(value.name === undefined ? {} : { name: value.name }),
      ...(value.home_region === undefined ? {} : { homeRegion: value.home_region }),
      ...(value.allowed_regions === undefined ? {} : { allowedRegions: value.allowed_regions }),
      ...(value.allow_max_tokens_clamp === undefined
        ? {}
        : { allowMaxTokensClamp: value.allow_max_tokens_clamp }),
      ...(value.allow_key_management === undefined
        ? {}
        : { allowKeyManagement: value.allow_key_management }),
    };
    const changed = { ...tenant, ...changes };
    checkHomeRegion(changed.homeRegion, changed.allowedRegions);
    const { id } = tenant;
    await deps.catalog.updateTenant(id, changes);
    // Its keys' cached identities carry the tenant's regions: every replica reads them again.
    deps.clients.deleteWhere((identity) => identity.tenant.id === id);
    await announceCatalogChange(deps, { kind: 'tenant', tenantId: id });
    const money = await deps.ledger.tenantMoney(id, deps.clock.nowMs());
    return c.json(tenantMoneyView(changed, currency, money));
  });

  app.post('/admin/v1/tenants/:id/keys', async (c) => {
    const tenant = await tenantOrNotFound(deps, c.req.param('id'));
    const { value } = await readJsonBody(c, keySchema);
    const { key, secret } = await issueApiKey(deps, tenant.id, value);
    return c.json({ ...keyView(key), key: secret }, 201);
  });

  app.get('/admin/v1/tenants/:id/keys', async (c) => {
    const tenant = await tenantOrNotFound(deps, c.req.param('id'));
    const keys = await deps.catalog.listApiKeys(tenant.id);
    return c.json(listView(keys.map(keyView)));
  });

  app.patch('/admin/v1/keys/:id', async (c) => {
    const id = c.req.param('id');
    const key = await deps.catalog.getApiKey(id);
    if (!key) {
      throw notFound('key', id);
    }
    const { value } = await readJsonBody(c, keyChangeSchema);
    const changes = {
      ...(value.name === undefined ? {} : { name: value.name }),
      ...(value.models === undefined ? {} : { models: value.models }),
      ...(value.rpm === undefined ? {} : { requestsPerMinuteMax: value.rpm }),
      ...(value.tpm === undefined ? {} : { tokensPerMinuteMax: value.tpm }),
    };
    if (!(await deps.catalog.updateApiKey(id, changes))) {
      throw new GatewayError('conflict', `Key '${id}' is revoked: its limits no longer apply.`);
    }
    deps.clients.deleteWhere((identity) => identity.key.id === id);
    await announceCatalogChange(deps, { kind: 'key', keyId: id });
    return c.json(keyView({ ...key, ...changes }));
  });

  app.delete('/admin/v1/keys/:id', async (c) => {
    const id = c.req.param('id');
    if (!(await deps.catalog.getApiKey(id))) {
      throw notFound('key', id);
    }
    const revoked = await revokeApiKey(deps, id);
    return c.json(revoked ? keyView(revoked) : null);
  });
}

export function adminTenantRouteDocs(limits: Limits): RouteDoc[] {
  const route = routeDocsFor('admin');
  return [
    route('post', '/admin/v1/tenants', 'Create a tenant', {
      body: createTenantSchema(limits),
      successStatus: 201,
    }),
    route('get', '/admin/v1/tenants', 'List tenants with their money, paged', {
      query: listPageQuery,
    }),
    route('get', '/admin/v1/tenants/:id', 'Read a tenant with its balance, holds and coupons'),
    route('patch', '/admin/v1/tenants/:id', "Change a tenant's name, regions or clamp", {
      body: changeTenantSchema(limits),
    }),
    route('post', '/admin/v1/tenants/:id/keys', 'Issue an API key (its secret is shown once)', {
      body: createKeySchema(limits),
      successStatus: 201,
    }),
    route('get', '/admin/v1/tenants/:id/keys', "List a tenant's keys"),
    route('patch', '/admin/v1/keys/:id', "Change a key's name, models or rate limits", {
      body: changeKeySchema(limits),
    }),
    route('delete', '/admin/v1/keys/:id', 'Revoke a key'),
  ];
}

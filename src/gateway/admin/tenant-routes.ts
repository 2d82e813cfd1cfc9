/**
 * Admin API for tenants and their keys: create, list, read, issue a key (its secret is shown only
 * in the answer that creates it), revoke a key.
 */
import type { Hono } from 'hono';
import type { Deps, HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { newId, newSecret } from '../../platform/identifiers.ts';
import { readJsonBody } from '../middleware/json-body.ts';
import { listPageOf } from '../middleware/list-page.ts';
import { announceCatalogChange } from '../replicas/catalog-changes.ts';
import { createKeySchema, createTenantSchema } from './admin-requests.ts';
import { keyView, listView, tenantMoneyView } from './views.ts';

/** Characters of a key kept to tell keys apart: the prefix and 6 of its random characters. */
const keyPrefixLength = 10;

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

export function registerAdminTenantRoutes(app: Hono<HonoEnv>, deps: Deps): void {
  const tenantSchema = createTenantSchema(deps.config.limits);
  const keySchema = createKeySchema(deps.config.limits);
  const { currency } = deps.config;

  app.post('/admin/v1/tenants', async (c) => {
    const { value } = await readJsonBody(c, tenantSchema);
    const allowedRegions = value.allowed_regions ?? null;
    const homeRegion = value.home_region ?? null;
    if (homeRegion !== null && allowedRegions !== null && !allowedRegions.includes(homeRegion)) {
      throw new GatewayError('invalid_request', 'home_region must be one of allowed_regions.', {
        param: 'home_region',
      });
    }
    const tenant = {
      id: newId('ten'),
      name: value.name,
      homeRegion,
      allowedRegions,
      allowMaxTokensClamp: value.allow_max_tokens_clamp ?? false,
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

  app.post('/admin/v1/tenants/:id/keys', async (c) => {
    const tenant = await tenantOrNotFound(deps, c.req.param('id'));
    const { value } = await readJsonBody(c, keySchema);
    const secret = newSecret('tbk');
    const key = {
      id: newId('key'),
      tenantId: tenant.id,
      name: value.name ?? null,
      keyHash: await deps.hashText(secret),
      keyPrefix: secret.slice(0, keyPrefixLength),
      models: value.models ?? null,
      requestsPerMinuteMax: value.rpm ?? null,
      tokensPerMinuteMax: value.tpm ?? null,
      status: 'active' as const,
      createdAtMs: deps.clock.nowMs(),
      revokedAtMs: null,
    };
    await deps.catalog.insertApiKey(key);
    return c.json({ ...keyView(key), key: secret }, 201);
  });

  app.get('/admin/v1/tenants/:id/keys', async (c) => {
    const tenant = await tenantOrNotFound(deps, c.req.param('id'));
    const keys = await deps.catalog.listApiKeys(tenant.id);
    return c.json(listView(keys.map(keyView)));
  });

  app.delete('/admin/v1/keys/:id', async (c) => {
    const id = c.req.param('id');
    if (!(await deps.catalog.getApiKey(id))) {
      throw notFound('key', id);
    }
    await deps.catalog.revokeApiKey(id, deps.clock.nowMs());
    deps.clients.deleteWhere((identity) => identity.key.id === id);
    await announceCatalogChange(deps, { kind: 'key', keyId: id });
    const revoked = await deps.catalog.getApiKey(id);
    return c.json(revoked ? keyView(revoked) : null);
  });
}

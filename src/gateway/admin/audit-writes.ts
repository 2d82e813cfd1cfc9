/**
 * Appends every successful admin and provider write, and a tenant's writes to its own keys, to the
 * audit log: who (the actor the credential check found), when, what (an action per route), which
 * entity, and its API view before and after the write. Views come from the same functions the API answers with, and every
 * secret field (a new key, a provider token, an upstream api_key) is removed before storing. A
 * write no route below names is still recorded, as `write`, so a new route is never unaudited.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { formatMoney } from '../../billing/money.ts';
import { currentPrices } from '../../billing/price-book.ts';
import type { Deps, HonoEnv } from '../../deps.ts';
import { currentProviderView } from './payout-routes.ts';
import { backendView, couponView, keyView, priceView, tenantMoneyView } from './views.ts';

type Views = Record<string, unknown>;

type AuditedRoute = {
  method: string;
  path: RegExp;
  action: string;
  entityType: string;
  /** The entity's id: from the path, or from the answer when the write created it. */
  entityId(pathIds: string[], after: Views | null): string | null;
  tenantId(pathIds: string[], after: Views | null): string | null;
  /** The entity as it was before the write, read before the route runs. */
  before?(deps: Deps, pathIds: string[]): Promise<unknown>;
};

const idSegment = '([^/]+)';

const field = (name: string) => (_: string[], after: Views | null) => {
  const value = after?.[name];
  return typeof value === 'string' ? value : null;
};
const pathId = (index: number) => (pathIds: string[]) => pathIds[index] ?? null;
const none = () => null;

/** A key as it stood before a write to it, for the audit record. */
async function keyBefore(deps: Deps, [id = '']: string[]) {
  const key = await deps.catalog.getApiKey(id);
  return key ? keyView(key) : null;
}

const auditedRoutes: AuditedRoute[] = [
  {
    method: 'POST',
    path: /^\/admin\/v1\/tenants$/,
    action: 'tenant.create',
    entityType: 'tenant',
    entityId: field('id'),
    tenantId: field('id'),
  },
  {
    method: 'PATCH',
    path: new RegExp(`^/admin/v1/tenants/${idSegment}$`),
    action: 'tenant.update',
    entityType: 'tenant',
    entityId: pathId(0),
    tenantId: pathId(0),
    before: async (deps, [id = '']) => {
      const tenant = await deps.catalog.getTenant(id);
      const money = tenant && (await deps.ledger.tenantMoney(id, deps.clock.nowMs()));
      return tenant && money ? tenantMoneyView(tenant, deps.config.currency, money) : null;
    },
  },
  {
    method: 'POST',
    path: new RegExp(`^/admin/v1/tenants/${idSegment}/keys$`),
    action: 'key.create',
    entityType: 'key',
    entityId: field('id'),
    tenantId: pathId(0),
  },
  {
    method: 'POST',
    path: /^\/v1\/account\/keys$/,
    action: 'key.create',
    entityType: 'key',
    entityId: field('id'),
    tenantId: field('tenant_id'),
  },
  {
    method: 'DELETE',
    path: new RegExp(`^/v1/account/keys/${idSegment}$`),
    action: 'key.revoke',
    entityType: 'key',
    entityId: pathId(0),
    tenantId: field('tenant_id'),
    before: keyBefore,
  },
  {
    method: 'DELETE',
    path: new RegExp(`^/admin/v1/keys/${idSegment}$`),
    action: 'key.revoke',
    entityType: 'key',
    entityId: pathId(0),
    tenantId: field('tenant_id'),
    before: keyBefore,
  },
  {
    method: 'PATCH',
    path: new RegExp(`^/admin/v1/keys/${idSegment}$`),
    action: 'key.update',
    entityType: 'key',
    entityId: pathId(0),
    tenantId: field('tenant_id'),
    before: keyBefore,
  },
  {
    method: 'POST',
    path: new RegExp(`^/admin/v1/tenants/${idSegment}/adjustments$`),
    action: 'adjustment.create',
    entityType: 'adjustment',
    entityId: field('id'),
    tenantId: pathId(0),
    before: async (deps, [tenantId = '']) => walletOf(deps, tenantId),
  },
  {
    method: 'POST',
    path: new RegExp(`^/admin/v1/tenants/${idSegment}/topups$`),
    action: 'topup.create',
    entityType: 'topup',
    entityId: field('id'),
    tenantId: pathId(0),
    before: async (deps, [tenantId = '']) => walletOf(deps, tenantId),
  },
  {
    method: 'POST',
    path: new RegExp(`^/admin/v1/tenants/${idSegment}/leases$`),
    action: 'lease.create',
    entityType: 'lease',
    entityId: field('id'),
    tenantId: pathId(0),
  },
  {
    method: 'POST',
    path: new RegExp(`^/admin/v1/tenants/${idSegment}/coupons$`),
    action: 'coupon.grant',
    entityType: 'coupon',
    entityId: field('id'),
    tenantId: pathId(0),
  },
  {
    method: 'DELETE',
    path: new RegExp(`^/admin/v1/coupons/${idSegment}$`),
    action: 'coupon.void',
    entityType: 'coupon',
    entityId: pathId(0),
    tenantId: field('tenant_id'),
    before: async (deps, [id = '']) => {
      const coupon = await deps.ledger.coupon(id);
      return coupon ? couponView(coupon) : null;
    },
  },
  {
    method: 'PUT',
    path: /^\/admin\/v1\/prices\/(.+)$/,
    action: 'price.publish',
    entityType: 'price',
    entityId: pathId(0),
    tenantId: none,
    before: async (deps, [model = '']) =>
      currentPrices(await deps.catalog.listPrices(), deps.clock.nowMs())
        .filter((price) => price.model === model)
        .map(priceView),
  },
  {
    method: 'PUT',
    path: /^\/admin\/v1\/meters\/(storage|transport)$/,
    action: 'meter_price.publish',
    entityType: 'meter_price',
    entityId: pathId(0),
    tenantId: none,
  },
  {
    method: 'POST',
    path: /^\/admin\/v1\/providers$/,
    action: 'provider.create',
    entityType: 'provider',
    entityId: field('id'),
    tenantId: none,
  },
  {
    method: 'POST',
    path: new RegExp(`^/admin/v1/providers/${idSegment}/token$`),
    action: 'provider.token_rotate',
    entityType: 'provider',
    entityId: pathId(0),
    tenantId: none,
    before: providerBefore,
  },
  {
    method: 'PUT',
    path: new RegExp(`^/admin/v1/providers/${idSegment}/payout-rate$`),
    action: 'provider.payout_rate',
    entityType: 'provider',
    entityId: pathId(0),
    tenantId: none,
    before: providerBefore,
  },
  {
    method: 'POST',
    path: new RegExp(`^/admin/v1/providers/${idSegment}/payouts$`),
    action: 'payout.create',
    entityType: 'payout',
    entityId: field('id'),
    tenantId: none,
    before: async (deps, [providerId = '']) => payableOf(deps, providerId),
  },
  {
    method: 'POST',
    path: /^\/admin\/v1\/tokens\/rotate$/,
    action: 'admin_token.rotate',
    entityType: 'admin_token',
    entityId: field('id'),
    tenantId: none,
  },
  {
    method: 'POST',
    path: new RegExp(`^/admin/v1/backends/${idSegment}/approve$`),
    action: 'backend.approve',
    entityType: 'backend',
    entityId: pathId(0),
    tenantId: none,
    before: backendBefore,
  },
  {
    method: 'POST',
    path: /^\/provider\/v1\/backends$/,
    action: 'backend.register',
    entityType: 'backend',
    entityId: field('id'),
    tenantId: none,
  },
  {
    method: 'PATCH',
    path: new RegExp(`^/provider/v1/backends/${idSegment}$`),
    action: 'backend.update',
    entityType: 'backend',
    entityId: pathId(0),
    tenantId: none,
    before: backendBefore,
  },
  {
    method: 'DELETE',
    path: new RegExp(`^/provider/v1/backends/${idSegment}$`),
    action: 'backend.remove',
    entityType: 'backend',
    entityId: pathId(0),
    tenantId: none,
    before: backendBefore,
  },
];

const unknownWrite: AuditedRoute = {
  method: '',
  path: /^$/,
  action: 'write',
  entityType: 'unknown',
  entityId: none,
  tenantId: none,
};

async function walletOf(deps: Deps, tenantId: string): Promise<unknown> {
  if (!(await deps.catalog.getTenant(tenantId))) {
    return null;
  }
  const money = await deps.ledger.tenantMoney(tenantId, deps.clock.nowMs());
  return { balance: formatMoney(money.walletBalanceMicro) };
}

async function providerBefore(deps: Deps, [id = '']: string[]): Promise<unknown> {
  const provider = await deps.catalog.getProvider(id);
  return provider ? currentProviderView(deps, provider) : null;
}

/** What the provider was owed before a payout. */
async function payableOf(deps: Deps, providerId: string): Promise<unknown> {
  if (!(await deps.catalog.getProvider(providerId))) {
    return null;
  }
  const balance = await deps.ledger.providerBalance(providerId);
  return { unpaid: formatMoney(balance.unpaidMicro) };
}

async function backendBefore(deps: Deps, [id = '']: string[]): Promise<unknown> {
  const backend = await deps.catalog.getBackend(id);
  return backend ? backendView(backend, deps.pool) : null;
}

/** Path ids as the routes see them: percent-decoded (an undecodable one is kept as sent). */
function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function routeOf(method: string, path: string): { route: AuditedRoute; pathIds: string[] } {
  for (const route of auditedRoutes) {
    const match = route.method === method ? route.path.exec(path) : null;
    if (match) {
      return { route, pathIds: match.slice(1).map(decoded) };
    }
  }
  return { route: unknownWrite, pathIds: [] };
}

const writeMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

async function answerOf(c: Context<HonoEnv>): Promise<Views | null> {
  try {
    const parsed: unknown = await c.res.clone().json();
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Views)
      : null;
  } catch {
    return null;
  }
}

export const auditWrites: MiddlewareHandler<HonoEnv> = async function auditWrites(c, next) {
  const method = c.req.method;
  if (!writeMethods.has(method)) {
    await next();
    return;
  }
  const deps = c.get('deps');
  const { route, pathIds } = routeOf(method, c.req.path);
  const before = route.before ? withoutSecrets(await route.before(deps, pathIds)) : null;
  await next();
  if (c.res.status >= 300) {
    return;
  }
  const after = await answerOf(c);
  try {
    await deps.audit.append({
      atMs: deps.clock.nowMs(),
      actor: c.get('requestLog').actor ?? 'unknown',
      action: route.action,
      entityType: route.entityType,
      entityId: route.entityId(pathIds, after),
      tenantId: route.tenantId(pathIds, after),
      requestId: c.get('requestId'),
      before,
      after: withoutSecrets(after),
    });
  } catch (error) {
    // The write itself happened: its answer stands, and the missing audit event is an alarm.
    deps.logger.log('error', 'audit_append_failed', {
      request_id: c.get('requestId'),
      action: route.action,
      message: error instanceof Error ? error.message : String(error),
    });
  }
};

/** Field names whose values are secrets wherever they appear in a view. */
const secretFieldNames = new Set(['key', 'token', 'api_key', 'apiKey', 'secret', 'authorization']);

/** A copy of `value` without any secret field, at any depth. */
export function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(withoutSecrets);
  }
  if (typeof value !== 'object' || value === null) {
    return value;
  }
  const copy: Record<string, unknown> = {};
  for (const [name, item] of Object.entries(value)) {
    if (!secretFieldNames.has(name)) {
      copy[name] = withoutSecrets(item);
    }
  }
  return copy;
}

/**
 * Provider API: a compute provider registers, lists, changes, drains and removes its own
 * backends. Another provider's backend answers 404, exactly like one that does not exist, so ids
 * reveal nothing. Providers are third parties, so they face limits: every URL passes the SSRF
 * policy before it is stored, a metrics_url stays on the backend's host, a provider has at most
 * `backendsPerProviderMax` backends, and a new backend is `pending` (serves nothing) until the
 * operator approves it, unless the operator auto-approves. app.ts authenticates these routes.
 */
import type { Context, Hono } from 'hono';
import { checkBackendUrl } from '../../backends/upstream/backend-url-policy.ts';
import type { Limits } from '../../config.ts';
import type { BackendRecord } from '../../db/catalog.ts';
import type { Deps, HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { newId } from '../../platform/identifiers.ts';
import { changeBackendSchema, registerBackendSchema } from '../admin/admin-requests.ts';
import { notFound } from '../admin/tenant-routes.ts';
import { backendView, listView } from '../admin/views.ts';
import { readJsonBody } from '../middleware/json-body.ts';
import { timeRangeQuery } from '../middleware/query-fields.ts';
import { type RouteDoc, routeDocsFor } from '../openapi/route-doc.ts';
import { announceCatalogChange, changeBackend } from '../replicas/catalog-changes.ts';
import { earningsView } from './earnings-view.ts';

const slotsDefault = 8;

async function allowedUrl(deps: Deps, text: string, param: string): Promise<string> {
  const checked = await checkBackendUrl(text, {
    allowPrivate: deps.config.allowPrivateBackends,
    resolveHost: deps.resolveHost,
  });
  if (!checked.ok) {
    throw new GatewayError('invalid_request', `${param}: ${checked.message}`, { param });
  }
  return checked.url;
}

async function ownBackend(c: Context<HonoEnv>): Promise<BackendRecord> {
  const id = c.req.param('id') ?? '';
  const backend = await c.get('deps').catalog.getBackend(id);
  if (!backend || backend.providerId !== c.get('provider').id) {
    throw notFound('backend', id);
  }
  return backend;
}

async function ensureModels(deps: Deps, models: readonly string[], nowMs: number): Promise<void> {
  for (const model of models) {
    await deps.catalog.ensureModel(model, nowMs);
  }
  await deps.catalogCache.reload();
}

export function registerProviderRoutes(app: Hono<HonoEnv>, deps: Deps): void {
  const registerSchema = registerBackendSchema(deps.config.limits);
  const changeSchema = changeBackendSchema(deps.config.limits);

  app.post('/provider/v1/backends', async (c) => {
    const { value } = await readJsonBody(c, registerSchema);
    const url = await allowedUrl(deps, value.url, 'url');
    const metricsUrl =
      value.metrics_url == null ? null : await allowedMetricsUrl(deps, value.metrics_url, url);
    const nowMs = deps.clock.nowMs();
    const backend: BackendRecord = {
      id: newId('bkd'),
      providerId: c.get('provider').id,
      url,
      region: value.region,
      models: [...new Set(value.models)],
      slots: value.slots ?? slotsDefault,
      accelerators: value.accelerators ?? 1,
      accelerator: value.accelerator ?? null,
      apiKey: value.api_key ?? null,
      metricsUrl,
      state: deps.config.autoApproveBackends ? 'active' : 'pending',
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
    };
    const backendsMax = deps.config.limits.backendsPerProviderMax;
    if (!(await deps.catalog.insertBackendBelowCap(backend, backendsMax))) {
      throw new GatewayError(
        'conflict',
        `This provider already has ${backendsMax} backends, the most allowed (limit backendsPerProviderMax); remove one first.`,
      );
    }
    await ensureModels(deps, backend.models, nowMs);
    deps.pool.upsert(backend);
    await announceCatalogChange(deps, { kind: 'backend', backendId: backend.id });
    return c.json(backendView(backend, deps.pool), 201);
  });

  app.get('/provider/v1/backends', async (c) => {
    const records = await deps.catalog.listBackendsOfProvider(c.get('provider').id);
    return c.json(listView(records.map((record) => backendView(record, deps.pool))));
  });

  app.patch('/provider/v1/backends/:id', async (c) => {
    const backend = await ownBackend(c);
    const { value } = await readJsonBody(c, changeSchema);
    if (value.state !== undefined && backend.state === 'pending') {
      throw new GatewayError(
        'conflict',
        'This backend awaits the operator’s approval; its state changes only once approved.',
        { param: 'state' },
      );
    }
    const nowMs = deps.clock.nowMs();
    const changes = {
      ...(value.slots === undefined ? {} : { slots: value.slots }),
      ...(value.accelerators === undefined ? {} : { accelerators: value.accelerators }),
      ...(value.accelerator === undefined ? {} : { accelerator: value.accelerator }),
      ...(value.models === undefined ? {} : { models: [...new Set(value.models)] }),
      ...(value.region === undefined ? {} : { region: value.region }),
      ...(value.state === undefined ? {} : { state: value.state }),
    };
    await ensureModels(deps, changes.models ?? [], nowMs);
    const updated = await changeBackend(deps, backend, changes);
    return c.json(backendView(updated, deps.pool));
  });

  app.get('/provider/v1/earnings', async (c) =>
    c.json(await earningsView(deps, c.get('provider').id, c.req.query())),
  );

  app.delete('/provider/v1/backends/:id', async (c) => {
    const backend = await ownBackend(c);
    const nowMs = deps.clock.nowMs();
    await deps.catalog.updateBackend(backend.id, { state: 'removed' }, nowMs);
    // Requests already running keep their connection; the pool closes once they finish.
    deps.pool.remove(backend.id);
    deps.upstream.forget(backend.id);
    await announceCatalogChange(deps, { kind: 'backend', backendId: backend.id });
    return c.json({ id: backend.id, object: 'backend', deleted: true });
  });
}

/**
 * A metrics URL is any http(s) URL (no /v1 suffix needed), under the same address policy, on the
 * backend's own host unless the operator allows others: the gateway scrapes it every interval, and
 * a foreign host would make the gateway a reflector aimed wherever a provider likes.
 */
async function allowedMetricsUrl(deps: Deps, text: string, backendUrl: string): Promise<string> {
  const param = 'metrics_url';
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new GatewayError('invalid_request', 'metrics_url must be an absolute http(s) URL', {
      param,
    });
  }
  const backendHost = new URL(backendUrl).hostname;
  if (!deps.config.allowForeignMetricsHosts && parsed.hostname !== backendHost) {
    throw new GatewayError(
      'invalid_request',
      `metrics_url must be on the backend's host ${backendHost}; the operator may allow other hosts (TOKENBANK_ALLOW_FOREIGN_METRICS_HOSTS=1).`,
      { param },
    );
  }
  const base = new URL(parsed.href);
  base.pathname = '/v1';
  await allowedUrl(deps, base.href, param);
  return text;
}

export function providerRouteDocs(limits: Limits): RouteDoc[] {
  const route = routeDocsFor('provider');
  return [
    route('post', '/provider/v1/backends', 'Register a backend (pending until approved)', {
      body: registerBackendSchema(limits),
      successStatus: 201,
    }),
    route('get', '/provider/v1/backends', "The provider's own backends with their live state"),
    route('patch', '/provider/v1/backends/:id', 'Change, drain or reactivate a backend', {
      body: changeBackendSchema(limits),
    }),
    route(
      'get',
      '/provider/v1/earnings',
      'What the provider earned in a time range, paid and unpaid',
      {
        query: timeRangeQuery,
      },
    ),
    route('delete', '/provider/v1/backends/:id', 'Remove a backend'),
  ];
}

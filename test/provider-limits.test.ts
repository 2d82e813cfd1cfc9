/**
 * Providers are third parties, so they face limits: a backend they register is `pending` and gets
 * no traffic until the operator approves it (or auto-approval is on), a provider has a capped
 * number of backends, a metrics_url stays on the backend's host, and their routes authenticate
 * before the audit middleware reads anything from the store.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Catalog } from '../src/db/catalog.ts';
import type { ErrorBody, ListBody } from './support/api-assertions.ts';
import {
  createTenantWithKey,
  expectOk,
  type HttpCaller,
  priceModels,
  registerProvider,
  stringField,
  topUp,
} from './support/demo-pool.ts';
import { fastSimulatorForFile } from './support/fast-simulator.ts';
import {
  bearerJson,
  type InProcessGateway,
  inProcessCaller,
  startInProcessGateway,
  testAdminToken,
} from './support/in-process-gateway.ts';

const model = 'limits-chat';
const simulator = fastSimulatorForFile({ models: [model] });
let gateway: InProcessGateway | undefined;

afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

async function start(environment: Record<string, string>, limits: Record<string, number> = {}) {
  gateway = await startInProcessGateway({
    config: { allowPrivateBackends: true },
    environment: { ...environment, TOKENBANK_LIMITS: JSON.stringify(limits) },
  });
  return { current: gateway, call: inProcessCaller(gateway) };
}

async function requestsReceived(): Promise<number> {
  const stats = (await (await fetch(`${simulator().origin}/sim/stats`)).json()) as {
    requests_received: number;
  };
  return stats.requests_received;
}

async function chat(current: InProcessGateway, apiKey: string): Promise<Response> {
  return current.app.request(
    '/v1/chat/completions',
    bearerJson(apiKey, 'POST', {
      model,
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 4,
    }),
  );
}

async function payingTenant(call: HttpCaller): Promise<string> {
  await priceModels(call, testAdminToken, [model]);
  const tenant = await createTenantWithKey(call, testAdminToken, { name: 'T' });
  await topUp(call, testAdminToken, tenant.tenantId, '10');
  return tenant.apiKey;
}

type BackendBody = { id: string; state: string };

async function backendState(call: HttpCaller, token: string, path: string, id: string) {
  const listed = await expectOk(call, 'GET', path, token);
  return (listed as unknown as ListBody<BackendBody>).data.find((backend) => backend.id === id)
    ?.state;
}

describe('approval of new backends', () => {
  it('keeps a pending backend out of traffic until the operator approves it', async () => {
    const { current, call } = await start({ TOKENBANK_AUTO_APPROVE_BACKENDS: '0' });
    const apiKey = await payingTenant(call);
    const { providerToken, backendIds } = await registerProvider(call, testAdminToken, [
      { url: simulator().url, region: 'east', models: [model] },
    ]);
    const [backendId = ''] = backendIds;
    expect(await backendState(call, providerToken, '/provider/v1/backends', backendId)).toBe(
      'pending',
    );
    expect(await backendState(call, testAdminToken, '/admin/v1/backends', backendId)).toBe(
      'pending',
    );

    const before = await requestsReceived();
    const refused = await chat(current, apiKey);
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(await requestsReceived()).toBe(before);

    // The provider cannot approve its own backend by setting it active.
    const selfApproved = await call('PATCH', `/provider/v1/backends/${backendId}`, providerToken, {
      state: 'active',
    });
    expect(selfApproved.status).toBe(409);
    expect((selfApproved.body as unknown as ErrorBody).error.param).toBe('state');
    expect((await chat(current, apiKey)).status).toBeGreaterThanOrEqual(400);
    expect(await requestsReceived()).toBe(before);

    const approved = await call('POST', `/admin/v1/backends/${backendId}/approve`, testAdminToken);
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ id: backendId, state: 'healthy' });
    const again = await call('POST', `/admin/v1/backends/${backendId}/approve`, testAdminToken);
    expect(again).toMatchObject({ status: 200, body: { id: backendId, state: 'healthy' } });

    expect((await chat(current, apiKey)).status).toBe(200);
    expect(await requestsReceived()).toBe(before + 1);

    const audit = await expectOk(call, 'GET', '/admin/v1/audit', testAdminToken);
    const approvals = (
      audit as unknown as ListBody<{
        action: string;
        entity_id: string;
        before: { state: string };
        after: { state: string };
      }>
    ).data.filter((event) => event.action === 'backend.approve');
    expect(approvals.map((event) => [event.entity_id, event.before.state])).toEqual(
      expect.arrayContaining([
        [backendId, 'pending'],
        [backendId, 'healthy'],
      ]),
    );
  });

  it('answers 404 for approving an unknown backend', async () => {
    const { call } = await start({ TOKENBANK_AUTO_APPROVE_BACKENDS: '0' });
    const answer = await call('POST', '/admin/v1/backends/bkd_nope/approve', testAdminToken);
    expect(answer.status).toBe(404);
    expect((answer.body as unknown as ErrorBody).error.code).toBe('not_found');
  });

  it('serves at once when the operator auto-approves', async () => {
    const { current, call } = await start({ TOKENBANK_AUTO_APPROVE_BACKENDS: '1' });
    const apiKey = await payingTenant(call);
    const { providerToken, backendIds } = await registerProvider(call, testAdminToken, [
      { url: simulator().url, region: 'east', models: [model] },
    ]);
    expect(
      await backendState(call, providerToken, '/provider/v1/backends', backendIds[0] ?? ''),
    ).toBe('healthy');
    const before = await requestsReceived();
    expect((await chat(current, apiKey)).status).toBe(200);
    expect(await requestsReceived()).toBe(before + 1);
  });
});

describe('backends per provider', () => {
  it('refuses a registration past the cap, naming the limit, and counts only live ones', async () => {
    const { call } = await start({}, { backendsPerProviderMax: 2 });
    const backend = { url: simulator().url, region: 'east', models: [model] };
    const { providerToken, backendIds } = await registerProvider(call, testAdminToken, [
      backend,
      backend,
    ]);
    const refused = await call('POST', '/provider/v1/backends', providerToken, backend);
    expect(refused.status).toBe(409);
    expect((refused.body as unknown as ErrorBody).error.message).toContain(
      'backendsPerProviderMax',
    );

    await expectOk(call, 'DELETE', `/provider/v1/backends/${backendIds[0]}`, providerToken);
    await expectOk(call, 'POST', '/provider/v1/backends', providerToken, backend);
    // Another provider has its own allowance.
    await registerProvider(call, testAdminToken, [backend, backend]);
  });

  it('lets exactly the cap through when registrations race', async () => {
    const { call } = await start({}, { backendsPerProviderMax: 3 });
    const { providerToken } = await registerProvider(call, testAdminToken, []);
    const backend = { url: simulator().url, region: 'east', models: [model] };
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        call('POST', '/provider/v1/backends', providerToken, backend),
      ),
    );
    expect(answers.filter((answer) => answer.status === 201)).toHaveLength(3);
    expect(answers.filter((answer) => answer.status === 409)).toHaveLength(5);
    const listed = await expectOk(call, 'GET', '/provider/v1/backends', providerToken);
    expect((listed as unknown as ListBody<BackendBody>).data).toHaveLength(3);
  });
});

describe('metrics_url', () => {
  const backend = { url: 'http://127.0.0.1:8000/v1', region: 'east', models: [model] };

  it('must be on the backend URL host unless the operator allows others', async () => {
    const { call } = await start({});
    const { providerToken } = await registerProvider(call, testAdminToken, []);
    const foreign = await call('POST', '/provider/v1/backends', providerToken, {
      ...backend,
      metrics_url: 'http://127.0.0.2:9400/metrics',
    });
    expect(foreign.status).toBe(400);
    expect((foreign.body as unknown as ErrorBody).error.param).toBe('metrics_url');
    expect((foreign.body as unknown as ErrorBody).error.message).toContain(
      'TOKENBANK_ALLOW_FOREIGN_METRICS_HOSTS',
    );
    const sameHost = await call('POST', '/provider/v1/backends', providerToken, {
      ...backend,
      metrics_url: 'http://127.0.0.1:9400/metrics',
    });
    expect(sameHost.status).toBe(201);
  });

  it('may name another host when TOKENBANK_ALLOW_FOREIGN_METRICS_HOSTS=1', async () => {
    const { call } = await start({ TOKENBANK_ALLOW_FOREIGN_METRICS_HOSTS: '1' });
    const { providerToken } = await registerProvider(call, testAdminToken, []);
    const created = await call('POST', '/provider/v1/backends', providerToken, {
      ...backend,
      metrics_url: 'http://127.0.0.2:9400/metrics',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ metrics_url: 'http://127.0.0.2:9400/metrics' });
  });
});

describe('authentication before the audit', () => {
  it('reads nothing from the store and audits nothing for a request without a valid token', async () => {
    const { current, call } = await start({});
    const { providerToken, backendIds } = await registerProvider(call, testAdminToken, [
      { url: simulator().url, region: 'east', models: [model] },
    ]);
    const [backendId = ''] = backendIds;
    const auditCount = async () =>
      (
        (await expectOk(
          call,
          'GET',
          '/admin/v1/audit',
          testAdminToken,
        )) as unknown as ListBody<unknown>
      ).data.length;
    const auditedBefore = await auditCount();

    const catalogCalls: string[] = [];
    const catalog = current.deps.catalog;
    current.deps.catalog = new Proxy(catalog, {
      get(target, name: keyof Catalog) {
        catalogCalls.push(String(name));
        return target[name];
      },
    });
    const strangers = [undefined, 'tbp-not-a-real-token-0000000000000000', testAdminToken];
    for (const token of strangers) {
      for (const method of ['PATCH', 'DELETE']) {
        const init: RequestInit =
          token === undefined
            ? { method, headers: { 'content-type': 'application/json' }, body: '{"slots":1}' }
            : bearerJson(token, method, { slots: 1 });
        const answer = await current.app.request(`/provider/v1/backends/${backendId}`, init);
        expect(answer.status).toBe(401);
      }
    }
    const strangerCalls = catalogCalls.filter((name) => name !== 'findProviderByTokenHash');
    expect(strangerCalls).toEqual([]);
    current.deps.catalog = catalog;

    expect(await auditCount()).toBe(auditedBefore);
    const own = await call('PATCH', `/provider/v1/backends/${backendId}`, providerToken, {
      slots: 2,
    });
    expect(own.status).toBe(200);
    expect(await auditCount()).toBe(auditedBefore + 1);
    expect(stringField(own.body, 'id')).toBe(backendId);
  });
});

/**
 * D1 on Cloudflare Workers, in real workerd: the catalog and the audit log live in the D1
 * database (given drizzle/'s schema as `wrangler d1 migrations apply` gives it), its writes that
 * depend on what is stored hold under concurrent requests with no interactive transaction (a
 * price's version, a provider's cap on backends), and each tenant object copies its usage
 * records there: every record exactly once, with the day's totals `/v1/account` reads, through a
 * D1 that refused for a while. A Worker whose D1 has no schema yet says which command gives it
 * one, and serves once it has. What the suite reads of D1 it reads with SQL, as an operator
 * would with `wrangler d1 execute`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, type HttpCaller, httpCaller } from './support/demo-pool.ts';
import { fastSimulatorForFile } from './support/fast-simulator.ts';
import { micro } from './support/money-reading.ts';
import { gatewayClient } from './support/openai-client.ts';
import { pollUntil } from './support/poll-until.ts';
import {
  firstTenant,
  type SeededPool,
  type SeededTenant,
  seedPool,
} from './support/seeded-pool.ts';
import {
  startWorkersRuntime,
  suiteVariables,
  type WorkersRuntime,
} from './support/workers-runtime.ts';

const model = 'sim-chat';
const adminToken = `tba-${'d'.repeat(32)}`;
const backendsPerProviderMax = 4;
const simulator = fastSimulatorForFile({ models: [model], region: 'east' });

let runtime: WorkersRuntime | undefined;
let call: HttpCaller;
let pool: SeededPool;
let tenant: SeededTenant;

function started(): WorkersRuntime {
  if (!runtime) {
    throw new Error('the Worker did not start');
  }
  return runtime;
}

beforeAll(async () => {
  runtime = await startWorkersRuntime(
    suiteVariables(adminToken, {
      TOKENBANK_LIMITS: JSON.stringify({
        backendsPerProviderMax,
        usageCopyDelayMs: 50,
        usageCopyRetryMs: 200,
        usageCopyBatchMax: 3,
      }),
    }),
  );
  call = httpCaller(runtime.url);
  pool = await seedPool(call, adminToken, {
    backends: [{ url: simulator().url, region: 'east', models: [model] }],
    tenants: [{ tenant: { name: 'edge' }, topUp: '100' }],
  });
  tenant = firstTenant(pool);
}, 120_000);

afterAll(async () => {
  await runtime?.close();
});

async function chats(count: number): Promise<string[]> {
  const client = gatewayClient({
    baseURL: `${started().url}/v1`,
    apiKey: tenant.apiKey,
    timeoutMs: 30_000,
  });
  const requestIds: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const { response } = await client.chat.completions
      .create({ model, messages: [{ role: 'user', content: `Hello ${index}` }], max_tokens: 8 })
      .withResponse();
    requestIds.push(String(response.headers.get('x-request-id')));
  }
  return requestIds;
}

type CopiedRecord = { request_id: string; cost: number; outcome: string };

async function copiedRecords(): Promise<CopiedRecord[]> {
  return (await started().d1(
    'SELECT request_id, cost, outcome FROM usage_records WHERE tenant_id = ? ORDER BY request_id',
    tenant.tenantId,
  )) as CopiedRecord[];
}

/** The tenant's usage records as its object holds them (the gateway's own usage read). */
async function recordsInObject(): Promise<{ request_id: string; cost: string }[]> {
  const usage = await expectOk(
    call,
    'GET',
    `/admin/v1/tenants/${tenant.tenantId}/usage`,
    adminToken,
  );
  return (usage.data as { request_id: string; cost: string }[]).sort((left, right) =>
    left.request_id.localeCompare(right.request_id),
  );
}

/** Waits for the copy to hold `count` records of the tenant, and returns them. */
function copyHolding(count: number): Promise<CopiedRecord[]> {
  return pollUntil(async () => {
    const copied = await copiedRecords();
    return copied.length >= count ? copied : undefined;
  }, `${count} usage records copied to D1`);
}

describe('the catalog and the audit log in D1', () => {
  it('answers /healthz through D1', async () => {
    const response = await fetch(`${started().url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok' });
  });

  it('holds what the operator and the provider created, and the audit of it', async () => {
    expect(await started().d1('SELECT id FROM tenants')).toEqual([{ id: tenant.tenantId }]);
    expect(await started().d1('SELECT id, tenant_id FROM api_keys')).toEqual([
      { id: tenant.keyId, tenant_id: tenant.tenantId },
    ]);
    expect(await started().d1('SELECT id FROM backends')).toEqual(
      pool.backendIds.map((id) => ({ id })),
    );
    const audited = await started().d1('SELECT action FROM audit_events ORDER BY id');
    expect(audited.map((row) => row.action)).toEqual(
      expect.arrayContaining(['provider.create', 'tenant.create', 'key.create', 'price.publish']),
    );
    const audit = await expectOk(call, 'GET', '/admin/v1/audit', adminToken);
    expect((audit.data as unknown[]).length).toBe(audited.length);
  });

  it('gives concurrent price publications one version each', async () => {
    const published = await Promise.all(
      Array.from({ length: 8 }, (_unused, index) =>
        expectOk(call, 'PUT', `/admin/v1/prices/${model}`, adminToken, {
          input: `${index + 1}.00`,
          output: '4.00',
        }),
      ),
    );
    const versions = (await started().d1(
      'SELECT version FROM prices WHERE model = ? ORDER BY version',
      model,
    )) as { version: number }[];
    // The seed published version 1.
    expect(versions.map((row) => row.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(new Set(published.map((price) => price.version)).size).toBe(8);
  });

  it('lets no more backends past the provider’s cap than it allows, however many register at once', async () => {
    const registrations = await Promise.all(
      Array.from({ length: 8 }, (_unused, index) =>
        call('POST', '/provider/v1/backends', pool.providerToken, {
          url: `${simulator().url.replace(/\/v1$/, '')}/extra-${index}/v1`,
          region: 'east',
          models: [model],
        }),
      ),
    );
    const statuses = registrations.map((registration) => registration.status).sort();
    // The seed registered one: three more fit under the cap of four.
    expect(statuses).toEqual([201, 201, 201, 409, 409, 409, 409, 409]);
    const live = await started().d1(
      "SELECT COUNT(*) AS backends FROM backends WHERE state != 'removed'",
    );
    expect(live).toEqual([{ backends: backendsPerProviderMax }]);
    // Removed again (they serve nothing), which frees room under the cap.
    for (const registration of registrations.filter((each) => each.status === 201)) {
      await expectOk(
        call,
        'DELETE',
        `/provider/v1/backends/${String(registration.body.id)}`,
        pool.providerToken,
      );
    }
    const again = await call('POST', '/provider/v1/backends', pool.providerToken, {
      url: `${simulator().url.replace(/\/v1$/, '')}/extra-again/v1`,
      region: 'east',
      models: [model],
    });
    expect(again.status).toBe(201);
    await expectOk(
      call,
      'DELETE',
      `/provider/v1/backends/${String(again.body.id)}`,
      pool.providerToken,
    );
  });
});

describe('the usage records copied to D1', () => {
  it('holds every record once, with the day’s totals /v1/account reads', async () => {
    const requestIds = await chats(7);
    const copied = await copyHolding(requestIds.length);
    const inObject = await recordsInObject();
    expect(copied.map((record) => [record.request_id, BigInt(record.cost)])).toEqual(
      inObject.map((record) => [record.request_id, micro(record.cost)]),
    );
    expect(copied.map((record) => record.request_id).sort()).toEqual([...requestIds].sort());

    const costMicro = inObject.reduce((total, record) => total + micro(record.cost), 0n);
    const [today] = await started().d1(
      'SELECT requests, cost FROM usage_daily WHERE tenant_id = ?',
      tenant.tenantId,
    );
    expect(today).toEqual({ requests: requestIds.length, cost: Number(costMicro) });
    const account = await expectOk(call, 'GET', '/v1/account', tenant.apiKey);
    expect(account.usage_today).toMatchObject({ requests: requestIds.length });
    expect(micro(String((account.usage_today as { cost: string }).cost))).toBe(costMicro);
  });

  it('keeps the records in the object while D1 refuses, then copies each once', async () => {
    const before = (await copiedRecords()).length;
    // As a copy would meet a database whose migrations were not applied yet.
    await started().d1('ALTER TABLE usage_records RENAME TO usage_records_away');
    let requestIds: string[];
    try {
      requestIds = await chats(4);
      await pollUntil(
        async () => (await recordsInObject()).length === before + requestIds.length,
        'the new requests settled in the tenant object',
      );
      expect(await started().d1('SELECT COUNT(*) AS records FROM usage_records_away')).toEqual([
        { records: before },
      ]);
    } finally {
      await started().d1('ALTER TABLE usage_records_away RENAME TO usage_records');
    }

    const copied = await copyHolding(before + requestIds.length);
    expect(copied.map((record) => record.request_id)).toEqual(
      (await recordsInObject()).map((record) => record.request_id),
    );
    const [today] = await started().d1(
      'SELECT requests FROM usage_daily WHERE tenant_id = ?',
      tenant.tenantId,
    );
    expect(today).toEqual({ requests: before + requestIds.length });
  });

  it('answers a provider’s earnings from the copy, as the objects hold them', async () => {
    const copied = await copiedRecords();
    const view = await expectOk(call, 'GET', '/provider/v1/earnings', pool.providerToken);
    const rows = view.data as { requests: number }[];
    expect(rows.reduce((total, row) => total + row.requests, 0)).toBe(copied.length);
  });
});

describe('a D1 database without the schema', () => {
  it('answers 503 naming the command that applies it, and serves once it is applied', async () => {
    const bare = await startWorkersRuntime(suiteVariables(adminToken), { withoutD1Schema: true });
    try {
      const refused = await httpCaller(bare.url)('GET', '/v1/models', 'tbk-anything');
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({
        error: { type: 'server_error', code: 'gateway_unavailable' },
      });
      expect(JSON.stringify(refused.body)).toContain('npx wrangler d1 migrations apply tokenbank');

      await bare.applyD1Schema();
      const tenants = await httpCaller(bare.url)('GET', '/admin/v1/tenants', adminToken);
      expect(tenants).toMatchObject({ status: 200, body: { data: [] } });
    } finally {
      await bare.close();
    }
  });
});

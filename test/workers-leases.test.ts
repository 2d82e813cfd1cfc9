/**
 * Card-hour leases on Cloudflare Workers, in real workerd: two gateway Workers over the same
 * Durable Objects (the leases in the coordinator object, each tenant's money in its own), two fast
 * simulators as one provider's backends, the official OpenAI SDK as the client. A lease is paid
 * up front from the wallet; while it runs the lessee's requests go to its backend, unbilled and
 * naming the lease, through either Worker, and other tenants never reach it; ended early, the
 * unused whole hours come back. A lease the tenant cannot pay holds nothing. The Cron Trigger
 * runs the lease job: a leased backend drained by its provider is recorded failed, a reservation
 * left unpaid past its claim window is dropped when it was never charged and marked paid when it
 * was (a gateway that died between the steps). The ledger check stays clean throughout.
 */
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assert } from '../src/assert.ts';
import { hourMs, leaseLine } from '../src/billing/lease-terms.ts';
import { leaseClaimMs } from '../src/gateway/leases/open-lease.ts';
import {
  createTenantWithKey,
  expectOk,
  type HttpCaller,
  httpCaller,
  topUp,
} from './support/demo-pool.ts';
import { fastSimulatorForFile } from './support/fast-simulator.ts';
import { micro } from './support/money-reading.ts';
import { gatewayClient } from './support/openai-client.ts';
import { pollUntil } from './support/poll-until.ts';
import { seedPool } from './support/seeded-pool.ts';
import {
  startWorkersRuntime,
  suiteVariables,
  type WorkersRuntime,
} from './support/workers-runtime.ts';

const model = 'lease-m';
const adminToken = `tba-${'l'.repeat(32)}`;
const hello = [{ role: 'user' as const, content: 'hello' }];

const simulators = [0, 1].map(() => fastSimulatorForFile({ models: [model], region: 'east' }));
let runtime: WorkersRuntime | undefined;
let call: HttpCaller;
let backendIds: string[] = [];
let providerToken: string;

type Tenant = { tenantId: string; apiKey: string };
type Lease = {
  id: string;
  backend_ids: string[];
  status: string;
  cost: string;
  refunded?: string;
};
type UsageRecord = { request_id: string; cost: string; backend_id: string; lease_id: string };
type StoredLease = {
  id: string;
  paidAtMs: number | null;
  settledAtMs: number | null;
  backends: { backendId: string; failedAtMs: number | null }[];
};

function started(): WorkersRuntime {
  if (!runtime) {
    throw new Error('the Workers did not start');
  }
  return runtime;
}

async function newTenant(name: string, balance: string): Promise<Tenant> {
  const tenant = await createTenantWithKey(call, adminToken, { name, home_region: 'east' });
  await topUp(call, adminToken, tenant.tenantId, balance);
  return tenant;
}

async function balanceMicro(tenant: Tenant): Promise<bigint> {
  const view = await expectOk(call, 'GET', `/admin/v1/tenants/${tenant.tenantId}`, adminToken);
  return micro(String(view.balance));
}

function client(tenant: Tenant, gatewayIndex = 0): OpenAI {
  const url = started().urls[gatewayIndex];
  return gatewayClient({ baseURL: `${url}/v1`, apiKey: tenant.apiKey, timeoutMs: 30_000 });
}

/** Sends one chat completion and answers its usage record, once the Worker has written it. */
async function served(tenant: Tenant, gatewayIndex = 0): Promise<UsageRecord> {
  const { response } = await client(tenant, gatewayIndex)
    .chat.completions.create({ model, messages: hello, max_tokens: 4 })
    .withResponse();
  const requestId = response.headers.get('x-request-id');
  return pollUntil(async () => {
    const usage = await expectOk(
      call,
      'GET',
      `/admin/v1/tenants/${tenant.tenantId}/usage`,
      adminToken,
    );
    return (usage.data as UsageRecord[]).find((record) => record.request_id === requestId);
  }, `the usage record of ${requestId}`);
}

async function lease(tenant: Tenant, body: Record<string, unknown>) {
  return call('POST', '/v1/leases', tenant.apiKey, { model, ...body });
}

async function storedLease(id: string): Promise<StoredLease | undefined> {
  return (await started().callCoordinator('leases', 'get', [id])) as StoredLease | undefined;
}

async function expectLedgerClean(): Promise<void> {
  const check = await expectOk(call, 'GET', '/admin/v1/ledger/check', adminToken);
  expect(check).toMatchObject({ ok: true, problems: [] });
}

/**
 * A reservation of backend `backendIndex` as a gateway that died after `reserve` left it: unpaid,
 * past its claim window, for an hour-long term already over (so it overlaps no other lease).
 */
async function lapsedReservation(tenant: Tenant, backendIndex: number, name: string) {
  const backendId = backendIds[backendIndex] ?? '';
  const [backend] = (await started().d1(
    'SELECT provider_id AS providerId FROM backends WHERE id = ?',
    backendId,
  )) as { providerId: string }[];
  assert(backend, `backend ${backendId} is in the catalog`);
  const createdAtMs = Date.now() - leaseClaimMs - 60_000;
  const startsAtMs = createdAtMs - 2 * hourMs;
  const backends = [
    { leaseId: `lse_${name}`, backendId, providerId: backend.providerId, accelerators: 1 },
  ].map((row) => ({ ...row, failedAtMs: null }));
  const term = { startsAtMs, hours: 1, cardHourMicro: 10_000_000n, backends };
  const line = leaseLine(term);
  const record = {
    id: `lse_${name}`,
    tenantId: tenant.tenantId,
    model,
    region: null,
    accelerators: 1,
    hours: 1,
    priceId: 'price-of-the-dead-gateway',
    cardHourMicro: term.cardHourMicro,
    cost: line.costMicro,
    startsAtMs,
    endsAtMs: startsAtMs + hourMs,
    paidBy: null,
    paidAtMs: null,
    endedAtMs: null,
    settledAtMs: null,
    createdAtMs,
  };
  const reserved = await started().callCoordinator('leases', 'reserve', [
    record,
    backends,
    Date.now() - leaseClaimMs,
  ]);
  expect(reserved).toBe(true);
  return { record, backends, line };
}

/** The charge of a lapsed reservation, made before its gateway died, in the tenant's object. */
async function chargeDirectly(
  tenant: Tenant,
  lapsed: Awaited<ReturnType<typeof lapsedReservation>>,
) {
  const { record, backends, line } = lapsed;
  await started().call({
    object: tenant.tenantId,
    target: 'mirror',
    parameters: [{ leases: [{ id: record.id, lease: { ...record, backends } }] }],
  });
  const input = {
    leaseId: record.id,
    tenantId: tenant.tenantId,
    model,
    region: 'east',
    line,
    atMs: record.createdAtMs,
  };
  const answer = (await started().call({
    object: tenant.tenantId,
    target: 'ledger',
    parameters: ['chargeLease', [input]],
  })) as { ok: boolean; value: { paid: boolean } };
  expect(answer).toMatchObject({ ok: true, value: { paid: true } });
}

beforeAll(async () => {
  runtime = await startWorkersRuntime(
    {
      ...suiteVariables(adminToken),
      // Each isolate reloads the running leases a second after its last reload.
      TOKENBANK_LIMITS: JSON.stringify({ leaseCheckIntervalMs: 1000 }),
    },
    { gatewayCount: 2 },
  );
  call = httpCaller(runtime.url);
  const seeded = await seedPool(call, adminToken, {
    backends: simulators.map((simulator, index) => ({
      url: simulator().url,
      region: 'east',
      models: [model],
      accelerators: index + 1,
    })),
    price: { input: '0', output: '1000000' },
    tenants: [],
  });
  backendIds = seeded.backendIds;
  providerToken = seeded.providerToken;
  await expectOk(call, 'PUT', `/admin/v1/prices/${model}`, adminToken, {
    input: '0',
    output: '1000000',
    card_hour: '10',
  });
}, 120_000);

afterAll(async () => {
  await runtime?.close();
});

describe('card-hour leases on the gateway Worker', () => {
  it('charges a lease up front, routes only its tenant to its backend, and refunds the unused hours', async () => {
    const lessee = await newTenant('lessee', '100');
    const other = await newTenant('other', '100');
    const opened = await lease(lessee, { accelerators: 1, hours: 3 });
    expect(opened.status).toBe(201);
    const leased = opened.body as unknown as Lease;
    expect(leased.backend_ids).toEqual([backendIds[0]]);
    expect(micro(leased.cost)).toBe(30_000_000n);
    expect(await balanceMicro(lessee)).toBe(70_000_000n);

    for (let index = 0; index < 3; index += 1) {
      const record = await served(lessee);
      expect(record).toMatchObject({ backend_id: backendIds[0], lease_id: leased.id });
      expect(micro(record.cost)).toBe(0n);
      expect((await served(other)).backend_id).toBe(backendIds[1]);
    }
    // The other Worker's isolates reload the running leases within their interval.
    await pollUntil(
      async () => ((await served(lessee, 1)).lease_id === leased.id ? true : undefined),
      'the lease honoured through the second Worker',
    );

    const ended = await call('DELETE', `/v1/leases/${leased.id}`, lessee.apiKey);
    expect(ended.status).toBe(200);
    expect(ended.body).toMatchObject({ id: leased.id, status: 'ended' });
    // The hour begun is delivered; the two after it come back to the wallet that paid them.
    expect(micro(String(ended.body.refunded))).toBe(20_000_000n);
    expect(await balanceMicro(lessee)).toBe(90_000_000n);
    const again = await call('DELETE', `/v1/leases/${leased.id}`, lessee.apiKey);
    expect(again.status).toBe(409);
    const record = await served(lessee);
    expect(record.lease_id).toBeNull();
    await expectLedgerClean();
  }, 120_000);

  it('holds nothing for a lease the tenant cannot pay', async () => {
    const poor = await newTenant('poor', '5');
    const refused = await lease(poor, { accelerators: 1, hours: 1 });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: { code: 'insufficient_quota' } });
    expect(await balanceMicro(poor)).toBe(5_000_000n);
    const open = (await started().callCoordinator('leases', 'listOpen', [])) as StoredLease[];
    expect(open).toEqual([]);
    const listed = await expectOk(call, 'GET', '/v1/leases', poor.apiKey);
    expect(listed.data).toEqual([]);
    await expectLedgerClean();
  }, 60_000);

  it('runs the lease job from the Cron Trigger: failed backends, lapsed reservations', async () => {
    const lessee = await newTenant('cron lessee', '100');
    const opened = await lease(lessee, { accelerators: 2, hours: 2 });
    expect(opened.status).toBe(201);
    const running = opened.body as unknown as Lease;
    expect(running.backend_ids).toEqual([backendIds[1]]);
    await expectOk(call, 'PATCH', `/provider/v1/backends/${backendIds[1]}`, providerToken, {
      state: 'draining',
    });

    const neverCharged = await lapsedReservation(lessee, 0, 'never_charged');
    const charged = await lapsedReservation(lessee, 0, 'charged');
    await chargeDirectly(lessee, charged);
    const beforeMicro = await balanceMicro(lessee);

    await started().scheduled();
    const failed = await pollUntil(async () => {
      const stored = await storedLease(running.id);
      return stored?.backends[0]?.failedAtMs === null ? undefined : stored;
    }, 'the drained leased backend recorded failed');
    expect(failed.backends[0]?.backendId).toBe(backendIds[1]);
    await pollUntil(
      async () => ((await storedLease(neverCharged.record.id)) === undefined ? true : undefined),
      'the reservation never charged dropped',
    );
    // Marked paid by its charge, then closed in the same run: its term is over, all delivered.
    const closed = await pollUntil(async () => {
      const stored = await storedLease(charged.record.id);
      return stored === undefined || stored.settledAtMs === null ? undefined : stored;
    }, 'the charged reservation marked paid and closed');
    expect(closed.paidAtMs).not.toBeNull();
    expect(await balanceMicro(lessee)).toBe(beforeMicro);

    const listed = await expectOk(call, 'GET', '/v1/leases', lessee.apiKey);
    const shown = (listed.data as Lease[]).map(({ id, status }) => ({ id, status }));
    expect(shown).toEqual([
      { id: running.id, status: 'active' },
      { id: charged.record.id, status: 'expired' },
    ]);
    const ended = await call('DELETE', `/v1/leases/${running.id}`, lessee.apiKey);
    // Its backend failed in the first hour, which counts as delivered; the second comes back.
    expect(micro(String(ended.body.refunded))).toBe(20_000_000n);
    await expectLedgerClean();
  }, 120_000);
});

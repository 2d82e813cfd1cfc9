/**
 * Card-hour leases end to end: the official SDK against the in-process app and SQLite ledger with
 * a clock the test moves, two real simulator processes in one region. A lease reserves a whole
 * backend, paid up front by a compute coupon then the wallet; while it runs the lessee's requests
 * go to its backend and are not token-billed (a zero-cost usage record naming the lease), other
 * tenants never reach it; ending it early refunds the unused whole hours to what paid them and
 * pays the provider its share of the hours delivered; a lease that cannot be paid holds nothing;
 * a backend the lease job finds failed (drained) is refunded for the hours after it failed when
 * the lease expires (the job closes it). A gateway that dies opening a lease: charged, the lease
 * job marks it paid by its charge's payers once its claim window is over, and it is routed and
 * refunded as any lease; not charged, the job drops its reservation, freeing its backends. A
 * gateway stalled past the claim window whose reservation was dropped before its charge landed
 * refunds the charge (409). The ledger check stays clean throughout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../src/deps.ts';
import { closeLeasesOver } from '../src/gateway/leases/close-lease.ts';
import { checkLeases } from '../src/gateway/leases/lease-job.ts';
import { leaseClaimMs, openLease } from '../src/gateway/leases/open-lease.ts';
import { createTenantWithKey, expectOk, type HttpCaller, topUp } from './support/demo-pool.ts';
import {
  type InProcessGateway,
  inProcessCaller,
  inProcessOpenAI,
  startInProcessGateway,
  testAdminToken,
} from './support/in-process-gateway.ts';
import { recordLease } from './support/lease-records.ts';
import { sdkFailure } from './support/openai-client.ts';
import { seedPool } from './support/seeded-pool.ts';
import { type SimulatorProcess, startSimulatorProcess } from './support/spawn-simulator.ts';

const model = 'lease-m';
const hello = [{ role: 'user' as const, content: 'hello' }];
const hourMs = 3_600_000;

let gateway: InProcessGateway;
let simulators: SimulatorProcess[] = [];
let call: HttpCaller;
let backendIds: string[] = [];
let providerToken: string;

type Lease = {
  id: string;
  model: string;
  backend_ids: string[];
  accelerators: number;
  status: string;
  cost: string;
  refunded?: string;
};
type UsageRecord = {
  request_id: string;
  cost: string;
  backend_id: string | null;
  lease_id: string | null;
  paid_by: unknown[];
};

async function admin(method: string, path: string, body?: unknown) {
  return expectOk(call, method, path, testAdminToken, body);
}

async function asTenant(apiKey: string, method: string, path: string, body?: unknown) {
  return call(method, path, apiKey, body);
}

async function newTenant(balance: string) {
  const created = await createTenantWithKey(call, testAdminToken, {
    name: 'lessee',
    home_region: 'east',
  });
  if (balance !== '0') {
    await topUp(call, testAdminToken, created.tenantId, balance);
  }
  return { ...created, client: inProcessOpenAI(gateway, created.apiKey) };
}

async function usageOf(tenantId: string): Promise<UsageRecord[]> {
  await gateway.deps.background.drain();
  return ((await admin('GET', `/admin/v1/tenants/${tenantId}/usage`)) as { data: UsageRecord[] })
    .data;
}

async function balanceOf(tenantId: string): Promise<string> {
  return ((await admin('GET', `/admin/v1/tenants/${tenantId}`)) as { balance: string }).balance;
}

async function earnedByProvider(): Promise<bigint> {
  const backend = await gateway.deps.catalog.getBackend(backendIds[0] ?? '');
  return (await gateway.deps.ledger.providerBalance(backend?.providerId ?? '')).earnedMicro;
}

async function expectLedgerClean(): Promise<void> {
  await gateway.deps.background.drain();
  expect(await admin('GET', '/admin/v1/ledger/check')).toMatchObject({ ok: true, problems: [] });
}

async function listLeases(apiKey: string): Promise<Lease[]> {
  return ((await asTenant(apiKey, 'GET', '/v1/leases')).body as unknown as { data: Lease[] }).data;
}

/** The whole backend `index` of the pool, as a lease holds it. */
async function leased(index: number) {
  const backend = await gateway.deps.catalog.getBackend(backendIds[index] ?? '');
  if (!backend) {
    throw new Error(`backend ${index} is not in the catalog`);
  }
  return {
    backendId: backend.id,
    providerId: backend.providerId,
    accelerators: backend.accelerators,
    failedAtMs: null,
  };
}

async function endAllLeases(): Promise<void> {
  for (const lease of await gateway.deps.leases.listOpen()) {
    await gateway.deps.leases.endEarly(lease.id, gateway.clock.nowMs());
  }
  await closeLeasesOver(gateway.deps);
  await gateway.deps.leaseRegistry.reload();
}

beforeAll(async () => {
  simulators = await Promise.all(
    [0, 1].map(() =>
      startSimulatorProcess(['--region', 'east', '--models', model, '--decode-tps', '20000']),
    ),
  );
  gateway = await startInProcessGateway({ config: { allowPrivateBackends: true } });
  call = inProcessCaller(gateway);
  const seeded = await seedPool(call, testAdminToken, {
    backends: simulators.map((simulator, index) => ({
      url: simulator.url,
      region: 'east',
      models: [model],
      accelerators: index + 1,
    })),
    price: { input: '0', output: '1000000' },
    tenants: [],
  });
  backendIds = seeded.backendIds;
  providerToken = seeded.providerToken;
  await admin('PUT', `/admin/v1/prices/${model}`, {
    input: '0',
    output: '1000000',
    card_hour: '10',
  });
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all(simulators.map((simulator) => simulator.stop()));
});

describe('card-hour leases', () => {
  it('shows the card-hour price before paying', async () => {
    const { client } = await newTenant('0');
    const listed = (await client.models.list()).data.find(
      (entry) => entry.id === model,
    ) as unknown as {
      pricing: { card_hour: string; regions: { card_hour: string }[] };
    };
    expect(listed.pricing.card_hour).toBe('10.00');
    expect(listed.pricing.regions[0]?.card_hour).toBe('10.00');
  });

  it('routes the lessee to its backend, not token-billed, and keeps others off it', async () => {
    const lessee = await newTenant('25');
    const coupon = (await admin('POST', `/admin/v1/tenants/${lessee.tenantId}/coupons`, {
      kind: 'compute',
      amount: '15',
      program: 'leases',
      reference: 'lease-coupon',
    })) as { id: string };
    const created = await asTenant(lessee.apiKey, 'POST', '/v1/leases', {
      model,
      accelerators: 2,
      hours: 2,
    });
    expect(created.status).toBe(201);
    const lease = created.body as unknown as Lease;
    // The 2-accelerator backend alone covers the ask: 2 accelerators × 2 hours × 10.
    expect(lease).toMatchObject({
      backend_ids: [backendIds[1]],
      accelerators: 2,
      status: 'active',
    });
    expect(lease.cost).toBe('40.00');
    expect(await balanceOf(lessee.tenantId)).toBe('0.00');

    const other = await newTenant('100');
    for (let index = 0; index < 4; index += 1) {
      gateway.clock.advanceMs(1_000);
      await lessee.client.chat.completions.create({ model, messages: hello, max_tokens: 3 });
      await other.client.chat.completions.create({ model, messages: hello, max_tokens: 3 });
    }
    const lesseeUsage = await usageOf(lessee.tenantId);
    expect(lesseeUsage).toHaveLength(4);
    for (const record of lesseeUsage) {
      expect(record).toMatchObject({
        backend_id: backendIds[1],
        lease_id: lease.id,
        cost: '0.00',
        paid_by: [],
      });
    }
    const otherUsage = await usageOf(other.tenantId);
    expect(otherUsage.map((record) => record.backend_id)).toEqual(Array(4).fill(backendIds[0]));
    expect(otherUsage.every((record) => record.lease_id === null)).toBe(true);

    const listed = (await asTenant(lessee.apiKey, 'GET', '/v1/leases')).body as unknown as {
      data: Lease[];
    };
    expect(listed.data.map((entry) => entry.id)).toEqual([lease.id]);
    await expectLedgerClean();

    // Ended early inside its first hour: the second whole hour (20.00) goes back, pro rata to
    // what paid (15 of 40 by the coupon, 25 by the wallet).
    gateway.clock.advanceMs(10 * 60_000);
    const earnedBefore = await earnedByProvider();
    const ended = await asTenant(lessee.apiKey, 'DELETE', `/v1/leases/${lease.id}`);
    expect(ended.status).toBe(200);
    // The provider earned its 80% of the hour delivered (2 accelerators × 10).
    expect(await earnedByProvider()).toBe(earnedBefore + 16_000_000n);
    const earnings = (await expectOk(call, 'GET', '/provider/v1/earnings', providerToken)) as {
      leases: { lease_id: string; earned: string }[];
    };
    expect(earnings.leases).toEqual([
      expect.objectContaining({ object: 'lease_earnings', lease_id: lease.id, earned: '16.00' }),
    ]);
    expect(ended.body).toMatchObject({ status: 'ended', refunded: '20.00' });
    expect(await balanceOf(lessee.tenantId)).toBe('12.50');
    const held = (await admin('GET', `/admin/v1/tenants/${lessee.tenantId}`)) as {
      coupons: { id: string; remaining: string }[];
    };
    expect(held.coupons.find((entry) => entry.id === coupon.id)?.remaining).toBe('7.50');
    const again = await asTenant(lessee.apiKey, 'DELETE', `/v1/leases/${lease.id}`);
    expect(again.status).toBe(409);

    // Once ended, the lessee's requests are token-billed again and may go anywhere.
    gateway.clock.advanceMs(1_000);
    await lessee.client.chat.completions.create({ model, messages: hello, max_tokens: 1 });
    const [latest] = (await usageOf(lessee.tenantId)).slice(-1);
    expect(latest).toMatchObject({ lease_id: null, cost: '1.00' });

    await expectLedgerClean();
  });

  it('refuses a lease the tenant cannot pay (429 insufficient_quota) and holds nothing', async () => {
    const poor = await newTenant('1');
    const failure = await sdkFailure(
      poor.client.post('/leases', { body: { model, accelerators: 1, hours: 1 } }),
    );
    expect(failure).toMatchObject({ status: 429, code: 'insufficient_quota' });
    expect(await balanceOf(poor.tenantId)).toBe('1.00');
    expect(await gateway.deps.leases.listOfTenant(poor.tenantId, { limit: 10 })).toEqual([]);
    // Nothing held: another tenant can lease both backends at once.
    const rich = await newTenant('100');
    const both = await asTenant(rich.apiKey, 'POST', '/v1/leases', {
      model,
      accelerators: 3,
      hours: 1,
    });
    expect(both.status).toBe(201);
    // And nobody can lease what is taken.
    const late = await newTenant('100');
    const taken = await asTenant(late.apiKey, 'POST', '/v1/leases', {
      model,
      accelerators: 1,
      hours: 1,
    });
    expect(taken.status).toBe(503);
    await endAllLeases();
    await expectLedgerClean();
  });

  it('lets the operator lease for a tenant, in the audit log', async () => {
    const tenant = await newTenant('20');
    const lease = (await admin('POST', `/admin/v1/tenants/${tenant.tenantId}/leases`, {
      model,
      region: 'east',
      accelerators: 1,
      hours: 1,
    })) as Lease;
    expect(lease).toMatchObject({ accelerators: 1, cost: '10.00', status: 'active' });
    const listed = (await asTenant(tenant.apiKey, 'GET', '/v1/leases')).body as { data: Lease[] };
    expect(listed.data.map((entry) => entry.id)).toEqual([lease.id]);
    const audit = (await admin('GET', '/admin/v1/audit?action=lease.create')) as {
      data: { entity_id: string; tenant_id: string }[];
    };
    expect(audit.data[0]).toMatchObject({ entity_id: lease.id, tenant_id: tenant.tenantId });
    await endAllLeases();
    await expectLedgerClean();
  });

  it("pages the tenant's leases newest first (?limit, ?after, has_more)", async () => {
    const tenant = await newTenant('30');
    const ids: string[] = [];
    // Three one-hour leases of the same backend, one after another.
    for (let hour = 1; hour <= 3; hour += 1) {
      gateway.clock.advanceMs(1_000);
      const created = await asTenant(tenant.apiKey, 'POST', '/v1/leases', {
        model,
        accelerators: 1,
        hours: 1,
        starts_at: new Date(gateway.clock.nowMs() + hour * hourMs).toISOString(),
      });
      expect(created.status).toBe(201);
      ids.push((created.body as unknown as Lease).id);
    }
    const newestFirst = [...ids].reverse();
    type Page = { data: Lease[]; first_id: string; last_id: string; has_more: boolean };
    const list = async (query: string) =>
      (await asTenant(tenant.apiKey, 'GET', `/v1/leases${query}`)).body as unknown as Page;
    const first = await list('?limit=2');
    expect(first).toMatchObject({
      object: 'list',
      first_id: newestFirst[0],
      last_id: newestFirst[1],
      has_more: true,
    });
    expect(first.data.map((lease) => lease.id)).toEqual(newestFirst.slice(0, 2));
    const second = await list(`?limit=2&after=${first.last_id}`);
    expect(second).toMatchObject({ first_id: newestFirst[2], has_more: false });
    expect(second.data.map((lease) => lease.id)).toEqual(newestFirst.slice(2));
    expect((await list('')).data.map((lease) => lease.id)).toEqual(newestFirst);

    // A cursor must be one of the asker's own leases.
    const other = await newTenant('0');
    for (const [asker, query, param] of [
      [tenant, '?after=lse_unknown', 'after'],
      [other, `?after=${ids[0]}`, 'after'],
      [tenant, '?limit=0', 'limit'],
    ] as const) {
      const refused = await asTenant(asker.apiKey, 'GET', `/v1/leases${query}`);
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ error: { param } });
    }
    await endAllLeases();
    await expectLedgerClean();
  });

  it('honours a lease charged by a gateway that died before marking it paid', async () => {
    const lessee = await newTenant('40');
    const coupon = (await admin('POST', `/admin/v1/tenants/${lessee.tenantId}/coupons`, {
      kind: 'compute',
      amount: '5',
      program: 'leases',
      reference: 'crash-coupon',
    })) as { id: string };
    // What openLease does up to the charge (2 accelerators × 2 hours × 10 = 40.00); then it died.
    const atMs = gateway.clock.nowMs();
    const id = 'lse_charged_then_crashed';
    const line = await recordLease(gateway.deps.leases, {
      id,
      tenantId: lessee.tenantId,
      model,
      term: { startsAtMs: atMs, hours: 2, cardHourMicro: 10_000_000n, backends: [await leased(1)] },
      atMs,
    });
    const charge = { leaseId: id, tenantId: lessee.tenantId, model, region: 'east', line, atMs };
    expect(await gateway.deps.ledger.chargeLease(charge)).toMatchObject({ paid: true });
    expect(await listLeases(lessee.apiKey)).toEqual([]);

    gateway.clock.advanceMs(leaseClaimMs + 1);
    expect(await checkLeases(gateway.deps, true)).toBe(0);
    const [honoured] = await listLeases(lessee.apiKey);
    expect(honoured).toMatchObject({ id, backend_ids: [backendIds[1]], status: 'active' });
    expect((await gateway.deps.leases.get(id))?.paidBy).toEqual([
      { source: 'coupon', id: coupon.id, kind: 'compute', amount: '5.00' },
      { source: 'wallet', id: null, kind: 'wallet', amount: '35.00' },
    ]);
    // Routed as any lease: the lessee to its backend, not token-billed; others kept off it.
    const other = await newTenant('10');
    gateway.clock.advanceMs(1_000);
    await lessee.client.chat.completions.create({ model, messages: hello, max_tokens: 3 });
    await other.client.chat.completions.create({ model, messages: hello, max_tokens: 3 });
    expect(await usageOf(lessee.tenantId)).toEqual([
      expect.objectContaining({ backend_id: backendIds[1], lease_id: id, cost: '0.00' }),
    ]);
    expect((await usageOf(other.tenantId))[0]?.backend_id).toBe(backendIds[0]);
    // Closed and refunded as any lease: the second hour goes back pro rata (5 of 40 by the coupon).
    const ended = await asTenant(lessee.apiKey, 'DELETE', `/v1/leases/${id}`);
    expect(ended.body).toMatchObject({ status: 'ended', refunded: '20.00' });
    expect(await balanceOf(lessee.tenantId)).toBe('22.50');
    await expectLedgerClean();
  });

  it('drops the reservation of a gateway that died before charging it', async () => {
    const lessee = await newTenant('30');
    const atMs = gateway.clock.nowMs();
    const id = 'lse_reserved_then_crashed';
    await recordLease(gateway.deps.leases, {
      id,
      tenantId: lessee.tenantId,
      model,
      term: {
        startsAtMs: atMs,
        hours: 1,
        cardHourMicro: 10_000_000n,
        backends: [await leased(0), await leased(1)],
      },
      atMs,
    });
    // Within its claim window it holds both backends: another lease finds them just taken.
    const other = await newTenant('100');
    const ask = { model, accelerators: 1, hours: 1 };
    const refused = await asTenant(other.apiKey, 'POST', '/v1/leases', ask);
    expect(refused).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });

    gateway.clock.advanceMs(leaseClaimMs + 1);
    expect(await checkLeases(gateway.deps, true)).toBe(0);
    expect(await gateway.deps.leases.get(id)).toBeUndefined();
    expect(await balanceOf(lessee.tenantId)).toBe('30.00');
    const both = await asTenant(other.apiKey, 'POST', '/v1/leases', { ...ask, accelerators: 3 });
    expect(both.status).toBe(201);
    await endAllLeases();
    await expectLedgerClean();
  });

  it('refunds the hours after a leased backend failed when the lease expires', async () => {
    const lessee = await newTenant('30');
    const created = await asTenant(lessee.apiKey, 'POST', '/v1/leases', {
      model,
      accelerators: 1,
      hours: 3,
    });
    const lease = created.body as unknown as Lease;
    expect(lease.cost).toBe('30.00');
    const [backendId] = lease.backend_ids;
    gateway.clock.advanceMs(30 * 60_000);
    // The provider drains the leased backend: the lease job finds it failed (nothing replaces it).
    await expectOk(call, 'PATCH', `/provider/v1/backends/${backendId}`, providerToken, {
      state: 'draining',
    });
    expect(await checkLeases(gateway.deps, true)).toBe(0);
    gateway.clock.advanceMs(3 * hourMs);
    expect(await checkLeases(gateway.deps, true)).toBe(1);
    // It served its first hour only: two hours back.
    expect(await balanceOf(lessee.tenantId)).toBe('20.00');
    await expectLedgerClean();
  });

  it('refunds a charge landing after the lease job dropped its stalled reservation (409)', async () => {
    const lessee = await newTenant('30');
    const tenant = await gateway.deps.catalog.getTenant(lessee.tenantId);
    if (!tenant) {
      throw new Error('the lessee is not in the catalog');
    }
    const ledger = gateway.deps.ledger;
    // This gateway stalls past the claim window before its charge lands; meanwhile the lease
    // job, finding no charge, drops the reservation.
    const stalled: Deps = {
      ...gateway.deps,
      ledger: {
        ...ledger,
        chargeLease: async (input) => {
          gateway.clock.advanceMs(leaseClaimMs + 1);
          await checkLeases(gateway.deps, true);
          return ledger.chargeLease(input);
        },
      },
    };
    const ask = {
      model,
      region: undefined,
      accelerators: 1,
      hours: 1,
      startsAtMs: gateway.clock.nowMs(),
    };
    await expect(openLease(stalled, tenant, ask)).rejects.toMatchObject({
      code: 'conflict',
    });
    expect(await balanceOf(lessee.tenantId)).toBe('30.00');
    expect(await listLeases(lessee.apiKey)).toEqual([]);
    // A charge refunded in full to its payers is all a lapsed reservation leaves: consistent.
    await expectLedgerClean();
  });
});

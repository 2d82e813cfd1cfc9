/**
 * The transport and storage meters end to end: the official SDK against the in-process app and
 * SQLite ledger with a clock the test moves, a real simulator process serving from another region
 * than the tenant's home. A cross-region request is paid by a transport coupon, then by the
 * wallet once it is spent, and its cost-lines header sums to its cost; storage ticks are paid by
 * a storage coupon, then the wallet, then go unpaid and the files are deleted after the grace
 * period with an audit record; an upload the tenant cannot store for a day is refused, by the
 * check and through a multipart `POST /v1/files` from the SDK, storing and charging nothing; the
 * regional prices with their off-peak windows and the meter prices are readable before paying.
 */
import { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMoney } from '../src/billing/money.ts';
import { chargeStorageTick, refuseUnpayableUpload } from '../src/gateway/batch/storage-meter.ts';
import { createTenantWithKey, expectOk, type HttpCaller, topUp } from './support/demo-pool.ts';
import {
  type InProcessGateway,
  inProcessCaller,
  inProcessOpenAI,
  startInProcessGateway,
  testAdminToken,
} from './support/in-process-gateway.ts';
import { sdkFailure } from './support/openai-client.ts';
import { seedPool } from './support/seeded-pool.ts';
import { type SimulatorProcess, startSimulatorProcess } from './support/spawn-simulator.ts';

const model = 'meters-m';
const hello = [{ role: 'user' as const, content: 'hello' }];
const hourMs = 3_600_000;

let gateway: InProcessGateway;
let simulator: SimulatorProcess;
let call: HttpCaller;

type Payer = { source: string; id: string | null; kind: string; amount: string };
type Line = { meter: string; units: string; price: string; cost: string };
type UsageRecord = { request_id: string; cost: string; lines: Line[]; paid_by: Payer[] };

function micro(text: string | null | undefined): bigint {
  const parsed = parseMoney(text ?? '');
  if (!parsed.ok) {
    throw new Error(`not an amount: ${text}`);
  }
  return parsed.micro;
}

async function admin(method: string, path: string, body?: unknown) {
  return expectOk(call, method, path, testAdminToken, body);
}

async function usageOf(tenantId: string): Promise<UsageRecord[]> {
  await gateway.deps.background.drain();
  return ((await admin('GET', `/admin/v1/tenants/${tenantId}/usage`)) as { data: UsageRecord[] })
    .data;
}

async function grant(tenantId: string, kind: string, amount: string): Promise<{ id: string }> {
  return (await admin('POST', `/admin/v1/tenants/${tenantId}/coupons`, {
    kind,
    amount,
    program: 'meters',
    reference: `${kind}-${tenantId}-${amount}`,
  })) as { id: string };
}

async function balanceOf(tenantId: string): Promise<string> {
  return ((await admin('GET', `/admin/v1/tenants/${tenantId}`)) as { balance: string }).balance;
}

async function newTenant(balance: string) {
  const created = await createTenantWithKey(call, testAdminToken, {
    name: 'meters',
    home_region: 'east',
  });
  if (balance !== '0') {
    await topUp(call, testAdminToken, created.tenantId, balance);
  }
  return { ...created, client: inProcessOpenAI(gateway, created.apiKey) };
}

async function expectLedgerClean(): Promise<void> {
  await gateway.deps.background.drain();
  expect(await admin('GET', '/admin/v1/ledger/check')).toMatchObject({ ok: true, problems: [] });
}

beforeAll(async () => {
  simulator = await startSimulatorProcess([
    '--region',
    'west',
    '--models',
    model,
    '--decode-tps',
    '20000',
    '--prefill-tps',
    '1000000',
  ]);
  gateway = await startInProcessGateway({
    config: { allowPrivateBackends: true, limits: { storageGraceS: 2 * 3_600 } },
  });
  call = inProcessCaller(gateway);
  await seedPool(call, testAdminToken, {
    backends: [{ url: simulator.url, region: 'west', models: [model] }],
    price: { input: '0', output: '1000000' },
    tenants: [],
  });
  // 0.0001 per byte carried from east to west; the default (any pair) is dearer, to be overridden.
  await admin('PUT', '/admin/v1/meters/transport', { transport_gb: '900000' });
  await admin('PUT', '/admin/v1/meters/transport', {
    transport_gb: '100000',
    from_region: 'east',
    to_region: 'west',
  });
  // 1 micro-unit per byte-second: a 1,000-byte file costs 3.60 a one-hour tick.
  await admin('PUT', '/admin/v1/meters/storage', { storage_gb_hour: '3600000' });
});

afterAll(async () => {
  await gateway?.close();
  await simulator?.stop();
});

describe('the transport meter', () => {
  it('charges a cross-region request to a transport coupon, then the wallet once it is spent', async () => {
    const { tenantId, client } = await newTenant('100');
    const coupon = await grant(tenantId, 'transport', '0.01');
    const first = await client.chat.completions
      .create({ model, messages: hello, max_tokens: 3 })
      .withResponse();
    const cost = micro(first.response.headers.get('x-tokenbank-cost'));
    const lines = (first.response.headers.get('x-tokenbank-cost-lines') ?? '').split(';');
    const byMeter = new Map(lines.map((entry) => entry.split('=') as [string, string]));
    expect([...byMeter.keys()]).toEqual(['input', 'cached_input', 'output', 'transport_gb']);
    expect([...byMeter.values()].reduce((sum, amount) => sum + micro(amount), 0n)).toBe(cost);
    expect(micro(byMeter.get('output'))).toBe(3_000_000n);
    expect(micro(byMeter.get('transport_gb'))).toBeGreaterThan(10_000n);

    // Later, so the usage records come in order.
    gateway.clock.advanceMs(1_000);
    await client.chat.completions.create({ model, messages: hello, max_tokens: 3 });
    const [paidByCoupon, paidByWallet] = await usageOf(tenantId);
    expect(paidByCoupon?.paid_by).toEqual([
      { source: 'coupon', id: coupon.id, kind: 'transport', amount: '0.01' },
      { source: 'wallet', id: null, kind: 'wallet', amount: expect.any(String) },
    ]);
    expect(paidByCoupon?.lines.map((line) => line.meter)).toContain('transport_gb');
    expect(paidByWallet?.paid_by).toEqual([
      { source: 'wallet', id: null, kind: 'wallet', amount: paidByWallet?.cost },
    ]);
    const transport = paidByWallet?.lines.find((line) => line.meter === 'transport_gb');
    expect(transport?.price).toBe('100000.00');
    await expectLedgerClean();
  });

  it('charges no transport to a tenant without a home region', async () => {
    const created = await createTenantWithKey(call, testAdminToken, { name: 'nowhere' });
    await topUp(call, testAdminToken, created.tenantId, '10');
    const client = inProcessOpenAI(gateway, created.apiKey);
    const { response } = await client.chat.completions
      .create({ model, messages: hello, max_tokens: 2 })
      .withResponse();
    expect(response.headers.get('x-tokenbank-cost')).toBe('2.00');
    expect(response.headers.get('x-tokenbank-cost-lines')).toBe(
      'input=0.00;cached_input=0.00;output=2.00',
    );
  });
});

describe('the storage meter', () => {
  it('charges ticks to a storage coupon, then the wallet, then deletes unpaid files after the grace period', async () => {
    const { tenantId } = await newTenant('10');
    const coupon = await grant(tenantId, 'storage', '5.00');
    await gateway.deps.files.create({
      tenantId,
      filename: 'held.jsonl',
      purpose: 'batch',
      content: new Uint8Array(1_000),
      atMs: gateway.clock.nowMs(),
    });
    const couponRemaining = async () =>
      (
        (await admin('GET', `/admin/v1/tenants/${tenantId}`)) as {
          coupons: { id: string; remaining: string }[];
        }
      ).coupons.find((held) => held.id === coupon.id)?.remaining;

    // The tick that ended as the file arrived held nothing of it: it is not charged for it.
    await chargeStorageTick(gateway.deps);
    expect(await couponRemaining()).toBe('5.00');

    gateway.clock.advanceMs(hourMs);
    await chargeStorageTick(gateway.deps);
    expect(await couponRemaining()).toBe('1.40');
    expect(await balanceOf(tenantId)).toBe('10.00');
    // The same tick charged again (another replica, a retry) changes nothing.
    await chargeStorageTick(gateway.deps);
    expect(await couponRemaining()).toBe('1.40');

    gateway.clock.advanceMs(hourMs);
    await chargeStorageTick(gateway.deps);
    expect(await couponRemaining()).toBe('0.00');
    expect(await balanceOf(tenantId)).toBe('7.80');

    for (const balance of ['4.20', '0.60', '0.60']) {
      gateway.clock.advanceMs(hourMs);
      await chargeStorageTick(gateway.deps);
      expect(await balanceOf(tenantId)).toBe(balance);
    }
    // The grace (two hours) counts from the start of the first unpaid tick: the second is past it.
    expect(await gateway.deps.files.countOfTenant(tenantId)).toBe(1);
    gateway.clock.advanceMs(hourMs);
    await chargeStorageTick(gateway.deps);
    expect(await gateway.deps.files.countOfTenant(tenantId)).toBe(0);
    const audit = (await admin('GET', `/admin/v1/audit?tenant_id=${tenantId}`)) as {
      data: { action: string; before: { files: number } }[];
    };
    expect(audit.data.find((event) => event.action === 'files.delete_unpaid')).toMatchObject({
      before: { files: 1 },
    });
    await expectLedgerClean();
  });

  it('refuses an upload the tenant cannot store for a day', async () => {
    const { tenantId } = await newTenant('1');
    const tenant = { id: tenantId, homeRegion: 'east' };
    // 100 bytes for a day: 8.64, more than the wallet's 1.00.
    await expect(refuseUnpayableUpload(gateway.deps, tenant, 100)).rejects.toMatchObject({
      code: 'insufficient_quota',
    });
    await grant(tenantId, 'storage', '10.00');
    await expect(refuseUnpayableUpload(gateway.deps, tenant, 100)).resolves.toBeUndefined();
  });

  it('refuses an upload through POST /v1/files with the 429 envelope, storing and charging nothing', async () => {
    const { tenantId, client } = await newTenant('1');
    const line = {
      custom_id: 'line-1',
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model, messages: hello, max_tokens: 1 },
    };
    const content = new TextEncoder().encode(`${JSON.stringify(line)}\n`);
    // More than 100 bytes: over 8.64 to store for a day, more than the wallet's 1.00.
    expect(content.byteLength).toBeGreaterThan(100);
    const upload = async () =>
      client.files.create({ file: await toFile(content, 'input.jsonl'), purpose: 'batch' });
    const entriesBefore = await gateway.deps.ledger.entries(tenantId, 100);

    const refused = await sdkFailure(upload());
    expect(refused.status).toBe(429);
    expect(refused.error).toMatchObject({
      type: 'insufficient_quota',
      code: 'insufficient_quota',
      param: 'file',
      message: expect.stringContaining(`holding ${content.byteLength} bytes`),
    });
    expect((await client.files.list()).data).toEqual([]);
    expect(await gateway.deps.files.countOfTenant(tenantId)).toBe(0);
    expect(await balanceOf(tenantId)).toBe('1.00');
    expect(await gateway.deps.ledger.entries(tenantId, 100)).toEqual(entriesBefore);

    // The same upload, once storage coupons can pay its day, is stored.
    await grant(tenantId, 'storage', '20.00');
    expect(await upload()).toMatchObject({ bytes: content.byteLength, purpose: 'batch' });
    expect(await gateway.deps.files.countOfTenant(tenantId)).toBe(1);
    await expectLedgerClean();
  });
});

describe('prices visible before paying', () => {
  it('lists each model with its price per region and off-peak windows, and the meter prices', async () => {
    await admin('PUT', `/admin/v1/prices/${model}`, {
      region: 'west',
      input: '0',
      output: '1000000',
      offpeak: { start: '00:00', end: '06:00', timezone: 'Asia/Shanghai', multiplier_bps: 5_000 },
    });
    const { client } = await newTenant('1');
    const listed = await client.models.retrieve(model);
    expect(listed).toMatchObject({
      pricing: {
        output: '1000000.00',
        regions: [
          {
            region: 'west',
            output: '1000000.00',
            card_hour: null,
            offpeak: [
              { start: '00:00', end: '06:00', timezone: 'Asia/Shanghai', multiplier_bps: 5_000 },
            ],
          },
        ],
      },
    });
    const meters = (await client.get('/meters')) as { data: Record<string, unknown>[] };
    expect(meters.data).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ meter: 'storage_gb_hour', kind: 'storage', price: '3600000.00' }),
        expect.objectContaining({
          meter: 'transport_gb',
          kind: 'transport',
          from_region: 'east',
          to_region: 'west',
          price: '100000.00',
        }),
      ]),
    );
  });
});

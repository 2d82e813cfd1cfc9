/**
 * The money path end to end through the official OpenAI SDK: a real simulator process, the real
 * app and SQLite ledger in-process with a clock the test moves. Coupon scope, coverage, priority
 * and expiry order, off-peak prices by time window, the pinned price of a request in flight,
 * refusals and the max_tokens clamp, and what each failure bills.
 */
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenantWithKey,
  expectOk,
  type HttpCaller,
  priceModels,
  topUp,
} from './support/demo-pool.ts';
import {
  type InProcessGateway,
  inProcessCaller,
  inProcessOpenAI,
  startInProcessGateway,
  testAdminToken,
} from './support/in-process-gateway.ts';
import { seedPool } from './support/seeded-pool.ts';
import {
  readSimulatorStats,
  type SimulatorProcess,
  setSimulatorFaults,
  startSimulatorProcess,
} from './support/spawn-simulator.ts';

const modelA = 'e2e-a';
const modelB = 'e2e-b';
const slowModel = 'e2e-slow';
const offpeakModel = 'e2e-offpeak';
const hello = [{ role: 'user' as const, content: 'hello' }];

let gateway: InProcessGateway;
let simulator: SimulatorProcess;
let slowSimulator: SimulatorProcess;
let call: HttpCaller;

type Coupon = { id: string; remaining: string; status: string; program: string };
type TenantBody = { balance: string; holds: string; coupons: Coupon[] };
type UsageBody = {
  data: {
    request_id: string;
    model: string;
    outcome: string;
    cost: string;
    usage_source: string | null;
    input_tokens: number | null;
    output_tokens: number | null;
    paid_by: { source: string; id: string | null; amount: string }[];
  }[];
};

async function tenantState(tenantId: string): Promise<TenantBody> {
  return (await expectOk(
    call,
    'GET',
    `/admin/v1/tenants/${tenantId}`,
    testAdminToken,
  )) as TenantBody;
}

async function usageOf(tenantId: string): Promise<UsageBody['data']> {
  await gateway.deps.background.drain();
  return (
    (await expectOk(
      call,
      'GET',
      `/admin/v1/tenants/${tenantId}/usage`,
      testAdminToken,
    )) as UsageBody
  ).data;
}

async function grant(tenantId: string, coupon: Record<string, unknown>): Promise<Coupon> {
  return (await expectOk(call, 'POST', `/admin/v1/tenants/${tenantId}/coupons`, testAdminToken, {
    kind: 'compute',
    ...coupon,
  })) as Coupon;
}

/** A tenant with a key and a prepaid balance, and an SDK client for it. */
async function newTenant(balance: string, tenant: Record<string, unknown> = {}) {
  const created = await createTenantWithKey(call, testAdminToken, { name: 'e2e', ...tenant });
  if (balance !== '0') {
    await topUp(call, testAdminToken, created.tenantId, balance);
  }
  return { ...created, client: inProcessOpenAI(gateway, created.apiKey) };
}

async function expectLedgerClean(): Promise<void> {
  await gateway.deps.background.drain();
  expect(await expectOk(call, 'GET', '/admin/v1/ledger/check', testAdminToken)).toMatchObject({
    ok: true,
    problems: [],
  });
}

beforeAll(async () => {
  const fast = ['--decode-tps', '20000', '--prefill-tps', '1000000'];
  [simulator, slowSimulator] = await Promise.all([
    startSimulatorProcess([
      '--region',
      'east',
      '--models',
      `${modelA},${modelB},${offpeakModel}`,
      ...fast,
    ]),
    startSimulatorProcess(['--region', 'east', '--models', slowModel, '--decode-tps', '40']),
  ]);
  gateway = await startInProcessGateway({ config: { allowPrivateBackends: true } });
  call = inProcessCaller(gateway);
  await seedPool(call, testAdminToken, {
    backends: [
      { url: simulator.url, region: 'east', models: [modelA, modelB, offpeakModel] },
      { url: slowSimulator.url, region: 'east', models: [slowModel] },
    ],
    // The off-peak model is priced by its own test.
    models: [modelA, modelB, slowModel],
    // 0 per 1M input tokens, 1,000,000 per 1M output tokens: each output token costs exactly 1.00.
    price: { input: '0', output: '1000000' },
    // Each test makes the tenants it needs (newTenant).
    tenants: [],
  });
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all([simulator?.stop(), slowSimulator?.stop()]);
});

describe('a completed request', () => {
  it('costs its tokens at the price, says so in headers, and moves the balance', async () => {
    const { tenantId, client } = await newTenant('100');
    const { response } = await client.chat.completions
      .create({ model: modelA, messages: hello, max_tokens: 7 })
      .withResponse();
    expect(response.headers.get('x-tokenbank-cost')).toBe('7.00');
    expect(response.headers.get('x-tokenbank-balance')).toBe('93.00');
    expect((await tenantState(tenantId)).balance).toBe('93.00');
    const [record] = await usageOf(tenantId);
    expect(record).toMatchObject({
      outcome: 'complete',
      usage_source: 'provider',
      output_tokens: 7,
      cost: '7.00',
    });
    expect(record?.paid_by).toEqual([
      { source: 'wallet', id: null, kind: 'wallet', amount: '7.00' },
    ]);
    await expectLedgerClean();
  });
});

describe('coupons pay first, within their terms', () => {
  it('a coupon scoped to model A does not pay for model B', async () => {
    const { tenantId, client } = await newTenant('100');
    const coupon = await grant(tenantId, { amount: '50', models: [modelA], reference: 'scope-a' });
    await client.chat.completions.create({ model: modelB, messages: hello, max_tokens: 4 });
    await client.chat.completions.create({ model: modelA, messages: hello, max_tokens: 3 });
    const records = await usageOf(tenantId);
    const forA = records.find((record) => record.model === modelA);
    const forB = records.find((record) => record.model === modelB);
    expect(forB?.paid_by).toEqual([{ source: 'wallet', id: null, kind: 'wallet', amount: '4.00' }]);
    expect(forA?.paid_by).toEqual([
      { source: 'coupon', id: coupon.id, kind: 'compute', amount: '3.00' },
    ]);
    await expectLedgerClean();
  });

  it('a 50% voucher pays half of each charge and the wallet the rest', async () => {
    const { tenantId, client } = await newTenant('100');
    const voucher = await grant(tenantId, { amount: '50', coverage_bps: 5000, reference: 'half' });
    await client.chat.completions.create({ model: modelA, messages: hello, max_tokens: 10 });
    const [record] = await usageOf(tenantId);
    expect(record?.paid_by).toEqual([
      { source: 'coupon', id: voucher.id, kind: 'compute', amount: '5.00' },
      { source: 'wallet', id: null, kind: 'wallet', amount: '5.00' },
    ]);
    await expectLedgerClean();
  });

  it('takes coupons by priority, then the one expiring first, and never an expired one', async () => {
    const { tenantId, client } = await newTenant('100');
    const nowMs = gateway.clock.nowMs();
    const later = await grant(tenantId, {
      amount: '3',
      reference: 'expires-later',
      expires_at: new Date(nowMs + 20 * 86_400_000).toISOString(),
    });
    const sooner = await grant(tenantId, {
      amount: '3',
      reference: 'expires-sooner',
      expires_at: new Date(nowMs + 10 * 86_400_000).toISOString(),
    });
    const urgent = await grant(tenantId, { amount: '2', reference: 'priority-first', priority: 1 });
    const expiring = await grant(tenantId, {
      amount: '50',
      reference: 'expires-in-an-hour',
      expires_at: new Date(nowMs + 3_600_000).toISOString(),
      priority: 0,
    });
    gateway.clock.advanceMs(2 * 3_600_000);
    await client.chat.completions.create({ model: modelA, messages: hello, max_tokens: 9 });
    const [record] = await usageOf(tenantId);
    expect(record?.paid_by).toEqual([
      { source: 'coupon', id: urgent.id, kind: 'compute', amount: '2.00' },
      { source: 'coupon', id: sooner.id, kind: 'compute', amount: '3.00' },
      { source: 'coupon', id: later.id, kind: 'compute', amount: '3.00' },
      { source: 'wallet', id: null, kind: 'wallet', amount: '1.00' },
    ]);
    expect(
      (await tenantState(tenantId)).coupons.find((coupon) => coupon.id === expiring.id)?.remaining,
    ).toBe('50.00');
    await gateway.deps.ledger.expireCoupons(gateway.clock.nowMs());
    const afterExpiry = (await tenantState(tenantId)).coupons.find(
      (coupon) => coupon.id === expiring.id,
    );
    expect(afterExpiry).toMatchObject({ status: 'expired', remaining: '0.00' });
    await expectLedgerClean();
  });
});

describe('prices', () => {
  it('applies the off-peak multiplier inside its time window only', async () => {
    await expectOk(call, 'PUT', `/admin/v1/prices/${offpeakModel}`, testAdminToken, {
      input: '0',
      output: '1000000',
      offpeak: { start: '00:00', end: '08:00', timezone: 'Asia/Shanghai', multiplier_bps: 5000 },
    });
    const { tenantId, client } = await newTenant('100');
    const startMs = gateway.clock.nowMs();
    const hourInShanghai = (atMs: number) => (new Date(atMs).getUTCHours() + 8) % 24;
    // Move to 17:00 in Shanghai (peak), then to 04:00 (off-peak), whatever the clock says now.
    gateway.clock.advanceMs(((((17 - hourInShanghai(startMs)) % 24) + 24) % 24) * 3_600_000);
    await client.chat.completions.create({ model: offpeakModel, messages: hello, max_tokens: 4 });
    gateway.clock.advanceMs(11 * 3_600_000);
    await client.chat.completions.create({ model: offpeakModel, messages: hello, max_tokens: 4 });
    const costs = (await usageOf(tenantId)).map((record) => record.cost);
    expect(costs).toEqual(['4.00', '2.00']);
    await expectLedgerClean();
  });

  it('keeps the price pinned at admission when the price changes mid-stream', async () => {
    const { tenantId, client } = await newTenant('100');
    const stream = await client.chat.completions.create({
      model: slowModel,
      messages: hello,
      max_tokens: 6,
      stream: true,
    });
    let chunks = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) {
        chunks += 1;
      }
      if (chunks === 2) {
        gateway.clock.advanceMs(1000);
        await priceModels(call, testAdminToken, [slowModel], { input: '0', output: '9000000' });
      }
    }
    const [record] = await usageOf(tenantId);
    expect(record?.cost).toBe('6.00');
    await priceModels(call, testAdminToken, [slowModel], { input: '0', output: '1000000' });
    await expectLedgerClean();
  });
});

describe('what cannot be paid is refused before it is forwarded', () => {
  it('answers 429 insufficient_quota with x-should-retry false, and charges nothing', async () => {
    const { tenantId, client } = await newTenant('5');
    const error = await client.chat.completions
      .create({ model: modelA, messages: hello, max_tokens: 10 })
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as APIError).code).toBe('insufficient_quota');
    expect((error as APIError).headers?.get('x-should-retry')).toBe('false');
    expect((await tenantState(tenantId)).balance).toBe('5.00');
    expect((await usageOf(tenantId))[0]).toMatchObject({ outcome: 'rejected', cost: '0.00' });
    await expectLedgerClean();
  });

  it('lowers max_tokens to what is affordable when the tenant allows it', async () => {
    const { tenantId, client } = await newTenant('5', { allow_max_tokens_clamp: true });
    const completion = await client.chat.completions.create({
      model: modelA,
      messages: hello,
      max_tokens: 10,
    });
    expect(completion.usage?.completion_tokens).toBe(5);
    expect(completion.choices[0]?.finish_reason).toBe('length');
    expect((await tenantState(tenantId)).balance).toBe('0.00');
    await expectLedgerClean();
  });
});

describe('what failures bill', () => {
  it('bills nothing when every backend fails before any output', async () => {
    const { tenantId, client } = await newTenant('100');
    await setSimulatorFaults(simulator, ['fast-503']);
    try {
      const error = await client.chat.completions
        .create({ model: modelB, messages: hello, max_tokens: 3 })
        .then(
          () => undefined,
          (caught: unknown) => caught,
        );
      expect((error as APIError).status).toBe(502);
    } finally {
      await setSimulatorFaults(simulator, []);
    }
    expect((await tenantState(tenantId)).balance).toBe('100.00');
    expect((await usageOf(tenantId))[0]).toMatchObject({ outcome: 'upstream_error', cost: '0.00' });
    await expectLedgerClean();
  });

  it('bills the delivered part of a stream cut half-way', async () => {
    const { tenantId, client } = await newTenant('100');
    await setSimulatorFaults(simulator, ['cut']);
    let words = 0;
    try {
      const stream = await client.chat.completions.create({
        model: modelB,
        messages: hello,
        max_tokens: 20,
        stream: true,
      });
      for await (const chunk of stream) {
        words += chunk.choices[0]?.delta.content ? 1 : 0;
      }
    } catch (error) {
      expect(error).toBeInstanceOf(APIError);
    } finally {
      await setSimulatorFaults(simulator, []);
    }
    const [record] = await usageOf(tenantId);
    expect(words).toBeGreaterThan(0);
    expect(record).toMatchObject({
      outcome: 'upstream_error',
      usage_source: 'gateway_count',
      output_tokens: words,
    });
    expect(record?.cost).toBe(`${words}.00`);
    await expectLedgerClean();
  });

  it('counts the delivered text itself when the backend reports no usage', async () => {
    const { tenantId, client } = await newTenant('100');
    await setSimulatorFaults(simulator, ['no-usage']);
    try {
      await client.chat.completions.create({ model: modelB, messages: hello, max_tokens: 6 });
    } finally {
      await setSimulatorFaults(simulator, []);
    }
    const [record] = await usageOf(tenantId);
    expect(record).toMatchObject({ usage_source: 'gateway_count', output_tokens: 6, cost: '6.00' });
    await expectLedgerClean();
  });

  it('bills the delivered part, and at least the prompt, when the client goes away', async () => {
    const { tenantId, client } = await newTenant('100');
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: slowModel, messages: hello, max_tokens: 50, stream: true },
      { signal: controller.signal },
    );
    let words = 0;
    try {
      for await (const chunk of stream) {
        words += chunk.choices[0]?.delta.content ? 1 : 0;
        if (words === 3) {
          controller.abort();
        }
      }
    } catch {
      // The abort surfaces as an error in the SDK.
    }
    const [record] = await usageOf(tenantId);
    expect(record?.outcome).toBe('client_disconnect');
    expect(record?.output_tokens).toBeGreaterThanOrEqual(3);
    expect(record?.output_tokens).toBeLessThan(50);
    expect(record?.input_tokens).toBeGreaterThan(0);
    await expectLedgerClean();
  });

  it('bills the prompt when the client leaves before a non-streaming answer', async () => {
    const { tenantId, client } = await newTenant('100');
    const controller = new AbortController();
    const answer = client.chat.completions
      .create({ model: slowModel, messages: hello, max_tokens: 40 }, { signal: controller.signal })
      .then(
        () => 'answered',
        (error: unknown) => error,
      );
    // Leave once the backend is at work on it (bounded: 200 looks at the simulator).
    for (
      let poll = 0;
      poll < 200 && (await readSimulatorStats(slowSimulator)).running === 0;
      poll += 1
    ) {
      await gateway.deps.background.drain();
    }
    controller.abort();
    expect(await answer).not.toBe('answered');
    const [record] = await usageOf(tenantId);
    expect(record).toMatchObject({
      outcome: 'client_disconnect',
      usage_source: 'gateway_count',
      output_tokens: 0,
    });
    expect(record?.input_tokens).toBeGreaterThan(0);
    await expectLedgerClean();
  });
});

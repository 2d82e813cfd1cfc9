/**
 * Billing under load, through real processes: one `tokenbank serve`, three `tokenbank sim`, and a
 * tenant whose two coupons and wallet pay for exactly K of 1,000 identical requests sent at once
 * with the official OpenAI SDK (streaming and not, chat and legacy completions). Exactly K are
 * admitted whatever the interleaving, the rest get 429 insufficient_quota before any backend sees
 * them, nothing is overdrawn, every micro-unit debited is in a usage record, coupons pay before
 * the wallet (in priority order), and the ledger checks out.
 *
 * Each request's cost is made equal to its reservation, so the money that settles early is never
 * freed for another request and K does not depend on the order the requests arrive in: the output
 * is always `max_tokens` (the simulator writes exactly that many), and the input price is one
 * micro-unit per million tokens, so the input line rounds up to exactly 1 micro-unit for the
 * estimate and the real count alike.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PinnedPrice, tokenCost } from '../src/billing/cost.ts';
import { formatMoney } from '../src/billing/money.ts';
import { estimatePromptTokens } from '../src/metering/estimate-prompt-tokens.ts';
import {
  createTenantWithKey,
  expectOk,
  type HttpCaller,
  httpCaller,
  priceModels,
  registerProvider,
  topUp,
} from './support/demo-pool.ts';
import { micro, sum } from './support/money-reading.ts';
import { type GatewayProcess, startGatewayProcess } from './support/spawn-gateway.ts';
import {
  readSimulatorStats,
  type SimulatorProcess,
  startSimulatorProcess,
} from './support/spawn-simulator.ts';

const adminToken = `tba-${'s'.repeat(32)}`;
const model = 'stress-chat';
const requestCount = 1_000;
/** How many requests the money pays for. */
const admittedExpected = 150;
const outputTokens = 16;
/** Per 1M tokens: 1 micro-unit of input (rounds to 1 per request), 1,000 micro-units of output. */
const price = { input: '0.000001', output: '1000.00' };
const prompt = 'Bill me exactly once, and never twice.';
const messages = [{ role: 'user' as const, content: prompt }];
const slotsPerSimulator = 64;

type Coupon = { id: string; priority: number; amountMicro: bigint };
type TenantView = {
  balance: string;
  holds: string;
  coupons: { id: string; remaining: string; held: string; amount: string; priority: number }[];
};
type PaidBy = { source: 'coupon' | 'wallet' | 'write_off'; id: string | null; amount: string };
type UsageView = {
  request_id: string;
  outcome: string;
  cost: string;
  paid_by: PaidBy[];
  input_tokens: number | null;
  output_tokens: number | null;
  usage_source: string | null;
};
type LedgerEntryView = {
  transaction_id: number;
  kind: string;
  debit_account: string;
  credit_account: string;
  amount: string;
  flag: string;
};
type Outcome =
  | { kind: 'ok'; requestId: string; outputTokens: number }
  | { kind: 'refused'; requestId: string }
  | { kind: 'other'; detail: string };

let gateway: GatewayProcess;
let simulators: SimulatorProcess[] = [];
let call: HttpCaller;
let tenantId: string;
let client: OpenAI;
let coupons: Coupon[];
let walletMicro: bigint;
let reservationMicro: bigint;

/** What one request costs and reserves: identical for every request of this suite. */
function costOfOneRequest(): bigint {
  const pinned: PinnedPrice = {
    priceId: 'test',
    inputPerMillion: micro(price.input),
    cachedInputPerMillion: micro(price.input),
    outputPerMillion: micro(price.output),
    multiplierBps: 10_000,
  };
  const estimate = tokenCost(
    { inputTokens: estimatePromptTokens([prompt]), cachedInputTokens: 0, outputTokens },
    pinned,
  );
  // Any real prompt count from 1 to 1M tokens costs the same 1 micro-unit of input.
  const actual = tokenCost({ inputTokens: 1, cachedInputTokens: 0, outputTokens }, pinned);
  expect(actual).toBe(estimate);
  return estimate;
}

async function tenantView(): Promise<TenantView> {
  return (await expectOk(
    call,
    'GET',
    `/admin/v1/tenants/${tenantId}`,
    adminToken,
  )) as unknown as TenantView;
}

/** One request of the mix: by index, chat or legacy completion, streamed or not. */
async function sendOne(index: number): Promise<Outcome> {
  const stream = index % 2 === 1;
  const legacy = index % 5 === 0;
  const withUsage = index % 4 === 1;
  try {
    if (legacy && stream) {
      const { data, response } = await client.completions
        .create({ model, prompt, max_tokens: outputTokens, stream: true })
        .withResponse();
      let words = 0;
      for await (const chunk of data) {
        words += chunk.choices[0]?.text ? 1 : 0;
      }
      return { kind: 'ok', requestId: requestIdOf(response), outputTokens: words };
    }
    if (legacy) {
      const { data, response } = await client.completions
        .create({ model, prompt, max_tokens: outputTokens })
        .withResponse();
      return {
        kind: 'ok',
        requestId: requestIdOf(response),
        outputTokens: data.usage?.completion_tokens ?? -1,
      };
    }
    if (stream) {
      const { data, response } = await client.chat.completions
        .create({
          model,
          messages,
          max_tokens: outputTokens,
          stream: true,
          ...(withUsage ? { stream_options: { include_usage: true } } : {}),
        })
        .withResponse();
      let words = 0;
      let reported: number | undefined;
      for await (const chunk of data) {
        words += chunk.choices[0]?.delta.content ? 1 : 0;
        reported = chunk.usage?.completion_tokens ?? reported;
      }
      if (withUsage && reported !== words) {
        return { kind: 'other', detail: `stream reported ${reported} tokens for ${words}` };
      }
      return { kind: 'ok', requestId: requestIdOf(response), outputTokens: words };
    }
    const { data, response } = await client.chat.completions
      .create({ model, messages, max_tokens: outputTokens })
      .withResponse();
    return {
      kind: 'ok',
      requestId: requestIdOf(response),
      outputTokens: data.usage?.completion_tokens ?? -1,
    };
  } catch (error) {
    if (
      error instanceof APIError &&
      error.status === 429 &&
      error.code === 'insufficient_quota' &&
      error.type === 'insufficient_quota' &&
      error.headers?.get('x-should-retry') === 'false' &&
      typeof error.requestID === 'string'
    ) {
      return { kind: 'refused', requestId: error.requestID };
    }
    const detail =
      error instanceof APIError
        ? `${error.status} ${error.code}: ${error.message}`
        : error instanceof Error
          ? `${error.name}: ${error.message}`
          : String(error);
    return { kind: 'other', detail };
  }
}

function requestIdOf(response: Response): string {
  const requestId = response.headers.get('x-request-id');
  if (requestId === null) {
    throw new Error('an answer without x-request-id');
  }
  return requestId;
}

beforeAll(async () => {
  const simulatorArgs = (region: string) => [
    '--region',
    region,
    '--models',
    model,
    '--slots',
    String(slotsPerSimulator),
    '--decode-tps',
    '20000',
    '--prefill-tps',
    '1000000',
  ];
  let east: SimulatorProcess;
  let west: SimulatorProcess;
  let north: SimulatorProcess;
  [east, west, north, gateway] = await Promise.all([
    startSimulatorProcess(simulatorArgs('east')),
    startSimulatorProcess(simulatorArgs('west')),
    startSimulatorProcess(simulatorArgs('north')),
    startGatewayProcess({
      adminToken,
      environment: {
        TOKENBANK_ALLOW_PRIVATE_BACKENDS: '1',
        TOKENBANK_LIMITS: JSON.stringify({ ledgerEntriesMax: 10_000 }),
      },
    }),
  ]);
  simulators = [east, west, north];
  call = httpCaller(gateway.url);
  await registerProvider(
    call,
    adminToken,
    simulators.map((simulator, index) => ({
      url: simulator.url,
      region: ['east', 'west', 'north'][index] ?? 'east',
      models: [model],
      slots: slotsPerSimulator,
    })),
  );
  await priceModels(call, adminToken, [model], price);
  const tenant = await createTenantWithKey(call, adminToken, { name: 'stress' });
  tenantId = tenant.tenantId;

  reservationMicro = costOfOneRequest();
  // Two coupons (the later-granted one first by priority), the wallet pays the rest of K
  // reservations plus half of one more: not enough for a (K+1)th.
  const couponSpecs = [
    { priority: 50, amountMicro: 500_000n },
    { priority: 10, amountMicro: 750_000n },
  ];
  coupons = [];
  for (const [index, spec] of couponSpecs.entries()) {
    const granted = await expectOk(
      call,
      'POST',
      `/admin/v1/tenants/${tenantId}/coupons`,
      adminToken,
      {
        kind: 'compute',
        amount: formatMoney(spec.amountMicro),
        priority: spec.priority,
        reference: `stress-coupon-${index}`,
      },
    );
    coupons.push({ id: String(granted.id), ...spec });
  }
  const couponsMicro = sum(coupons.map((coupon) => coupon.amountMicro));
  walletMicro = BigInt(admittedExpected) * reservationMicro - couponsMicro + reservationMicro / 2n;
  expect(walletMicro).toBeGreaterThan(0n);
  await topUp(call, adminToken, tenantId, formatMoney(walletMicro));
  client = new OpenAI({
    baseURL: `${gateway.url}/v1`,
    apiKey: tenant.apiKey,
    maxRetries: 0,
    timeout: 45_000,
  });
});

afterAll(async () => {
  await Promise.all([gateway?.stop(), ...simulators.map((simulator) => simulator.stop())]);
  if (gateway) {
    rmSync(dirname(gateway.databasePath), { recursive: true, force: true });
  }
});

describe('1,000 concurrent requests against money for 150', () => {
  it('admits exactly what the money covers and accounts for every micro-unit', async () => {
    const before = await tenantView();
    const moneyBefore =
      micro(before.balance) + sum(before.coupons.map((coupon) => micro(coupon.remaining)));
    expect(moneyBefore).toBe(walletMicro + sum(coupons.map((coupon) => coupon.amountMicro)));
    expect(moneyBefore / reservationMicro).toBe(BigInt(admittedExpected));

    // While the burst runs, the tenant is sampled: never overdrawn, never more held than K cost.
    let bursting = true;
    const samples: TenantView[] = [];
    const sampler = (async () => {
      while (bursting && samples.length < 2_000) {
        samples.push(await tenantView());
      }
    })();
    const outcomes = await Promise.all(
      Array.from({ length: requestCount }, (_, index) => sendOne(index)),
    ).finally(() => {
      bursting = false;
    });
    await sampler;
    expect(samples.length).toBeGreaterThan(0);
    for (const sample of samples) {
      expect(micro(sample.balance)).toBeGreaterThanOrEqual(0n);
      expect(micro(sample.holds)).toBeLessThanOrEqual(BigInt(admittedExpected) * reservationMicro);
      for (const coupon of sample.coupons) {
        expect(micro(coupon.remaining)).toBeGreaterThanOrEqual(0n);
      }
    }

    // Nothing but a success or a refusal for money.
    expect(outcomes.filter((outcome) => outcome.kind === 'other')).toEqual([]);
    const admitted = outcomes.flatMap((outcome) => (outcome.kind === 'ok' ? [outcome] : []));
    const refused = outcomes.flatMap((outcome) => (outcome.kind === 'refused' ? [outcome] : []));
    expect(admitted).toHaveLength(admittedExpected);
    expect(refused).toHaveLength(requestCount - admittedExpected);
    for (const success of admitted) {
      expect(success.outputTokens).toBe(outputTokens);
    }

    // Refused requests never reached a backend.
    const served = await Promise.all(simulators.map(readSimulatorStats));
    expect(sum(served.map((stats) => BigInt(stats.requests_served)))).toBe(
      BigInt(admittedExpected),
    );

    // Streams settle just after their last byte: wait (bounded) until nothing is held.
    const after = await waitUntilNoHolds();
    expect(after.holds).toBe('0.00');
    const balanceAfter = micro(after.balance);
    const couponsAfter = after.coupons.map((coupon) => micro(coupon.remaining));
    expect(balanceAfter).toBeGreaterThanOrEqual(0n);
    for (const coupon of after.coupons) {
      expect(micro(coupon.remaining)).toBeGreaterThanOrEqual(0n);
      expect(coupon.held).toBe('0.00');
    }
    const debited = moneyBefore - balanceAfter - sum(couponsAfter);
    expect(debited).toBe(BigInt(admittedExpected) * reservationMicro);
    // What is left cannot pay for one more request.
    expect(moneyBefore - debited).toBeLessThan(reservationMicro);

    // One usage record per request, matching what each client saw.
    const usage = (await expectOk(call, 'GET', `/admin/v1/tenants/${tenantId}/usage`, adminToken))
      .data as UsageView[];
    expect(usage).toHaveLength(requestCount);
    const byRequest = new Map(usage.map((record) => [record.request_id, record]));
    expect(byRequest.size).toBe(requestCount);
    for (const success of admitted) {
      const record = byRequest.get(success.requestId);
      expect(record, success.requestId).toMatchObject({
        outcome: 'complete',
        cost: formatMoney(reservationMicro),
        output_tokens: outputTokens,
        usage_source: 'provider',
      });
    }
    for (const refusal of refused) {
      expect(byRequest.get(refusal.requestId), refusal.requestId).toMatchObject({
        outcome: 'rejected',
        cost: '0.00',
        paid_by: [],
      });
    }
    const costs = usage.map((record) => micro(record.cost));
    expect(sum(costs)).toBe(debited);

    // Every record is paid in full by coupons and the wallet; nothing written off.
    const paidByCoupon = new Map<string, bigint>();
    let paidByWallet = 0n;
    for (const record of usage) {
      expect(sum(record.paid_by.map((paid) => micro(paid.amount)))).toBe(micro(record.cost));
      for (const paid of record.paid_by) {
        expect(paid.source).not.toBe('write_off');
        if (paid.source === 'coupon' && paid.id !== null) {
          paidByCoupon.set(paid.id, (paidByCoupon.get(paid.id) ?? 0n) + micro(paid.amount));
        } else {
          paidByWallet += micro(paid.amount);
        }
      }
    }
    // Coupons are spent to the last micro-unit; the wallet paid only the rest.
    for (const coupon of coupons) {
      expect(paidByCoupon.get(coupon.id)).toBe(coupon.amountMicro);
    }
    expect(couponsAfter).toEqual(coupons.map(() => 0n));
    expect(paidByWallet).toBe(debited - sum(coupons.map((coupon) => coupon.amountMicro)));
    expect(balanceAfter).toBe(walletMicro - paidByWallet);

    await expectCouponsHeldBeforeWallet();

    const check = await expectOk(call, 'GET', '/admin/v1/ledger/check', adminToken);
    expect(check).toMatchObject({ ok: true, problems: [] });
  });
});

/** Polls the tenant (bounded) until its holds are all released or settled. */
async function waitUntilNoHolds(): Promise<TenantView> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const view = await tenantView();
    if (view.holds === '0.00' || Date.now() > deadline) {
      return view;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * In the order the reservations were committed, the holds went to the priority-10 coupon, then
 * the priority-50 one, then the wallet: never back to a coupon once a later payer was used.
 */
async function expectCouponsHeldBeforeWallet(): Promise<void> {
  const entries = (await expectOk(call, 'GET', `/admin/v1/tenants/${tenantId}/ledger`, adminToken))
    .data as LedgerEntryView[];
  const holds = entries
    .filter((entry) => entry.kind === 'reserve' && entry.flag === 'pending')
    .reverse();
  const order = [...coupons]
    .sort((left, right) => left.priority - right.priority)
    .map((coupon) => `coupon:${coupon.id}`)
    .concat(`wallet:${tenantId}`);
  const ranks = holds.map((entry) => order.indexOf(entry.debit_account));
  expect(ranks).not.toContain(-1);
  expect(ranks).toEqual([...ranks].sort((left, right) => left - right));
  expect(new Set(ranks)).toEqual(new Set([0, 1, 2]));
  const heldPerPayer = order.map((account) =>
    sum(
      holds.filter((entry) => entry.debit_account === account).map((entry) => micro(entry.amount)),
    ),
  );
  expect(heldPerPayer).toEqual([
    750_000n,
    500_000n,
    BigInt(admittedExpected) * reservationMicro - 1_250_000n,
  ]);
}

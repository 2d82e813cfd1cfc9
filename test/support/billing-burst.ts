/**
 * The billing burst of the stress suites: three `tokenbank sim`, a tenant whose two coupons and
 * wallet pay for exactly K of 1,000 identical requests, sent at once with the official OpenAI SDK
 * (streaming and not, chat and legacy completions), spread over one gateway or several replicas
 * on one store. Exactly K are admitted whatever the interleaving, the rest get 429
 * insufficient_quota before any backend sees them, nothing is overdrawn, every micro-unit debited
 * is in a usage record, coupons pay before the wallet (in priority order), and the ledger checks
 * out. Used by billing-stress (one gateway, SQLite) and postgres-replicas-stress (three replicas,
 * PostgreSQL).
 *
 * Each request's cost is made equal to its reservation, so the money that settles early is never
 * freed for another request and K does not depend on the order the requests arrive in: the output
 * is always `max_tokens` (the simulator writes exactly that many), and the input price is one
 * micro-unit per million tokens, so the input line rounds up to exactly 1 micro-unit for the
 * estimate and the real count alike.
 */
import type OpenAI from 'openai';
import { APIError } from 'openai';
import { Agent, type Dispatcher } from 'undici';
import { expect } from 'vitest';
import { type PinnedPrice, tokenCost } from '../../src/billing/cost.ts';
import { formatMoney } from '../../src/billing/money.ts';
import { estimatePromptTokens } from '../../src/metering/estimate-prompt-tokens.ts';
import { expectOk, grantCoupon, type HttpCaller, httpCaller, topUp } from './demo-pool.ts';
import { micro, sum } from './money-reading.ts';
import { gatewayClient } from './openai-client.ts';
import { firstTenant, seedPool } from './seeded-pool.ts';
import {
  readSimulatorStats,
  type SimulatorProcess,
  startSimulatorProcess,
} from './spawn-simulator.ts';

export const burstModel = 'stress-chat';
export const burstRequestCount = 1_000;
/** How many requests the money pays for. */
export const burstAdmittedExpected = 150;
const outputTokens = 16;
/** Per 1M tokens: 1 micro-unit of input (rounds to 1 per request), 1,000 micro-units of output. */
const price = { input: '0.000001', output: '1000.00' };
const prompt = 'Bill me exactly once, and never twice.';
const messages = [{ role: 'user' as const, content: prompt }];
const slotsPerSimulator = 64;
const regions = ['east', 'west', 'north'] as const;

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

/** The funded tenant of a burst, as seeded through one gateway's admin API. */
export type BurstTenant = {
  tenantId: string;
  apiKey: string;
  coupons: Coupon[];
  walletMicro: bigint;
  reservationMicro: bigint;
};

/** The three fast simulators the burst is served by, one per region. */
export function startBurstSimulators(): Promise<SimulatorProcess[]> {
  return Promise.all(
    regions.map((region) =>
      startSimulatorProcess([
        '--region',
        region,
        '--models',
        burstModel,
        '--slots',
        String(slotsPerSimulator),
        '--decode-tps',
        '20000',
        '--prefill-tps',
        '1000000',
      ]),
    ),
  );
}

/** What one request costs and reserves: identical for every request of the burst. */
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

/**
 * Registers the simulators, prices the model and funds the tenant: two coupons (the later-granted
 * one first by priority), and a wallet that pays the rest of K reservations plus half of one
 * more, not enough for a (K+1)th.
 */
export async function seedBurstTenant(
  call: HttpCaller,
  adminToken: string,
  simulators: readonly SimulatorProcess[],
): Promise<BurstTenant> {
  const tenant = firstTenant(
    await seedPool(call, adminToken, {
      backends: simulators.map((simulator, index) => ({
        url: simulator.url,
        region: regions[index] ?? 'east',
        models: [burstModel],
        slots: slotsPerSimulator,
      })),
      price,
      tenants: [{ tenant: { name: 'stress' } }],
    }),
  );
  const reservationMicro = costOfOneRequest();
  const couponSpecs = [
    { priority: 50, amountMicro: 500_000n },
    { priority: 10, amountMicro: 750_000n },
  ];
  const coupons: Coupon[] = [];
  for (const [index, spec] of couponSpecs.entries()) {
    const granted = await grantCoupon(call, adminToken, tenant.tenantId, {
      kind: 'compute',
      amount: formatMoney(spec.amountMicro),
      priority: spec.priority,
      reference: `stress-coupon-${index}`,
    });
    coupons.push({ id: String(granted.id), ...spec });
  }
  const couponsMicro = sum(coupons.map((coupon) => coupon.amountMicro));
  const walletMicro =
    BigInt(burstAdmittedExpected) * reservationMicro - couponsMicro + reservationMicro / 2n;
  expect(walletMicro).toBeGreaterThan(0n);
  await topUp(call, adminToken, tenant.tenantId, formatMoney(walletMicro));
  return {
    tenantId: tenant.tenantId,
    apiKey: tenant.apiKey,
    coupons,
    walletMicro,
    reservationMicro,
  };
}

function requestIdOf(response: Response): string {
  const requestId = response.headers.get('x-request-id');
  if (requestId === null) {
    throw new Error('an answer without x-request-id');
  }
  return requestId;
}

/** One request of the mix: by index, chat or legacy completion, streamed or not. */
async function sendOne(client: OpenAI, index: number): Promise<Outcome> {
  const stream = index % 2 === 1;
  const legacy = index % 5 === 0;
  const withUsage = index % 4 === 1;
  try {
    if (legacy && stream) {
      const { data, response } = await client.completions
        .create({ model: burstModel, prompt, max_tokens: outputTokens, stream: true })
        .withResponse();
      let words = 0;
      for await (const chunk of data) {
        words += chunk.choices[0]?.text ? 1 : 0;
      }
      return { kind: 'ok', requestId: requestIdOf(response), outputTokens: words };
    }
    if (legacy) {
      const { data, response } = await client.completions
        .create({ model: burstModel, prompt, max_tokens: outputTokens })
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
          model: burstModel,
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
      .create({ model: burstModel, messages, max_tokens: outputTokens })
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

/**
 * Sends the 1,000 requests at once, request i to gateway i mod n, and checks everything the
 * money must satisfy, reading the tenant back through the gateways in turn.
 */
export async function runBillingBurst(options: {
  gatewayUrls: readonly string[];
  adminToken: string;
  tenant: BurstTenant;
  simulators: readonly SimulatorProcess[];
}): Promise<void> {
  // Every request on a connection of its own, closed after the answer: a gateway may close a
  // connection that sat idle (workerd after 5 s, Node after its keepAliveTimeout) while a loaded
  // client still takes it for a fresh one, and the request sent on it is reset. The burst is
  // about money, not about a client reusing a socket the server is closing.
  const dispatcher = new Agent({ pipelining: 0 });
  try {
    await burstAndCheck(options, dispatcher);
  } finally {
    await dispatcher.close();
  }
}

async function burstAndCheck(
  options: Parameters<typeof runBillingBurst>[0],
  dispatcher: Dispatcher,
): Promise<void> {
  const { adminToken, tenant, simulators } = options;
  const { tenantId, coupons, walletMicro, reservationMicro } = tenant;
  const callers = options.gatewayUrls.map((url) => httpCaller(url, dispatcher));
  const clients = options.gatewayUrls.map((url) =>
    gatewayClient({ baseURL: `${url}/v1`, apiKey: tenant.apiKey, timeoutMs: 45_000, dispatcher }),
  );
  let reads = 0;
  /** Reads go to the gateways in turn: every replica must tell the same story. */
  const call: HttpCaller = (...args) => {
    reads += 1;
    return (callers[reads % callers.length] as HttpCaller)(...args);
  };
  const tenantView = async () =>
    (await expectOk(
      call,
      'GET',
      `/admin/v1/tenants/${tenantId}`,
      adminToken,
    )) as unknown as TenantView;

  const before = await tenantView();
  const moneyBefore =
    micro(before.balance) + sum(before.coupons.map((coupon) => micro(coupon.remaining)));
  expect(moneyBefore).toBe(walletMicro + sum(coupons.map((coupon) => coupon.amountMicro)));
  expect(moneyBefore / reservationMicro).toBe(BigInt(burstAdmittedExpected));

  // While the burst runs, the tenant is sampled: never overdrawn, never more held than K cost.
  let bursting = true;
  const samples: TenantView[] = [];
  const sampler = (async () => {
    while (bursting && samples.length < 2_000) {
      samples.push(await tenantView());
    }
  })();
  const burst = Promise.all(
    Array.from({ length: burstRequestCount }, (_, index) =>
      sendOne(clients[index % clients.length] as OpenAI, index),
    ),
  ).finally(() => {
    bursting = false;
  });
  // Awaited together, so a failed read fails the test at once rather than as an unhandled error.
  const [outcomes] = await Promise.all([burst, sampler]);
  expect(samples.length).toBeGreaterThan(0);
  for (const sample of samples) {
    expect(micro(sample.balance)).toBeGreaterThanOrEqual(0n);
    expect(micro(sample.holds)).toBeLessThanOrEqual(
      BigInt(burstAdmittedExpected) * reservationMicro,
    );
    for (const coupon of sample.coupons) {
      expect(micro(coupon.remaining)).toBeGreaterThanOrEqual(0n);
    }
  }

  // Nothing but a success or a refusal for money.
  expect(outcomes.filter((outcome) => outcome.kind === 'other')).toEqual([]);
  const admitted = outcomes.flatMap((outcome) => (outcome.kind === 'ok' ? [outcome] : []));
  const refused = outcomes.flatMap((outcome) => (outcome.kind === 'refused' ? [outcome] : []));
  expect(admitted).toHaveLength(burstAdmittedExpected);
  expect(refused).toHaveLength(burstRequestCount - burstAdmittedExpected);
  for (const success of admitted) {
    expect(success.outputTokens).toBe(outputTokens);
  }

  // Refused requests never reached a backend.
  const served = await Promise.all(simulators.map(readSimulatorStats));
  expect(sum(served.map((stats) => BigInt(stats.requests_served)))).toBe(
    BigInt(burstAdmittedExpected),
  );

  // Streams settle just after their last byte: wait (bounded) until nothing is held.
  const after = await waitUntilNoHolds(tenantView);
  expect(after.holds).toBe('0.00');
  const balanceAfter = micro(after.balance);
  const couponsAfter = after.coupons.map((coupon) => micro(coupon.remaining));
  expect(balanceAfter).toBeGreaterThanOrEqual(0n);
  for (const coupon of after.coupons) {
    expect(micro(coupon.remaining)).toBeGreaterThanOrEqual(0n);
    expect(coupon.held).toBe('0.00');
  }
  const debited = moneyBefore - balanceAfter - sum(couponsAfter);
  expect(debited).toBe(BigInt(burstAdmittedExpected) * reservationMicro);
  // What is left cannot pay for one more request.
  expect(moneyBefore - debited).toBeLessThan(reservationMicro);

  // One usage record per request, matching what each client saw.
  const usage = (await expectOk(call, 'GET', `/admin/v1/tenants/${tenantId}/usage`, adminToken))
    .data as UsageView[];
  expect(usage).toHaveLength(burstRequestCount);
  const byRequest = new Map(usage.map((record) => [record.request_id, record]));
  expect(byRequest.size).toBe(burstRequestCount);
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

  await expectCouponsHeldBeforeWallet(call, adminToken, tenant);

  for (const each of callers) {
    const check = await expectOk(each, 'GET', '/admin/v1/ledger/check', adminToken);
    expect(check).toMatchObject({ ok: true, problems: [] });
  }
}

/** Polls the tenant (bounded) until its holds are all released or settled. */
async function waitUntilNoHolds(tenantView: () => Promise<TenantView>): Promise<TenantView> {
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
async function expectCouponsHeldBeforeWallet(
  call: HttpCaller,
  adminToken: string,
  tenant: BurstTenant,
): Promise<void> {
  const { tenantId, coupons, reservationMicro } = tenant;
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
    BigInt(burstAdmittedExpected) * reservationMicro - 1_250_000n,
  ]);
}

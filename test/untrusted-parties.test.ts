/**
 * The bank against parties it does not control, through a real `tokenbank serve` process on
 * SQLite and on PostgreSQL. A provider backend written to lie (support/lying-backend.ts) claims
 * two billion tokens, negative tokens, usage on the wrong chunk, answers 2xx with something that
 * is not JSON, and streams slower than the request timeout; clients spell metered fields other
 * ways. Every tenant pays at most what its request could have produced, every claim past the
 * bound flags the backend and repeated ones drain it, the body upstream is the gateway's own
 * (capped, no alias keys), no provider earns more than its share of what was collected, the
 * ledger checks out, and another tenant's latency holds while the attack runs.
 */
import fc from 'fast-check';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { limitsSchema } from '../src/config.ts';
import { promptContentOf } from '../src/metering/prompt-content.ts';
import { inputTokensBound } from '../src/metering/usage-bounds.ts';
import {
  createTenantWithKey,
  expectOk,
  type HttpCaller,
  httpCaller,
  priceModels,
  registerProvider,
  topUp,
} from './support/demo-pool.ts';
import { type LyingBackend, serveLyingBackend } from './support/lying-backend.ts';
import { micro, sum } from './support/money-reading.ts';
import { createTestDatabase } from './support/postgres-service.ts';
import { type GatewayProcess, startGatewayProcess } from './support/spawn-gateway.ts';
import { type SimulatorProcess, startSimulatorProcess } from './support/spawn-simulator.ts';
import { tenantReader, type UsageRecordView } from './support/tenant-money.ts';

const adminToken = 'tba-untrusted-parties-admin-0123456789';
const liarModel = 'liar-model';
const inflatorModel = 'inflated-model';
const honestModel = 'honest-model';
const hugePromptModel = 'huge-prompt-model';
const excessClaimsMax = 3;
const limits = limitsSchema.parse({});

type Store = { name: string; open(): Promise<{ database: string; close(): Promise<void> }> };

const stores: Store[] = [
  { name: 'SQLite', open: async () => ({ database: '', close: async () => {} }) },
  {
    name: 'PostgreSQL',
    open: async () => {
      const database = await createTestDatabase(inject('postgresAdminUrl'));
      return { database: database.url, close: () => database.drop() };
    },
  },
];

function chatBody(lie: string, extra: Record<string, unknown> = {}) {
  return {
    model: liarModel,
    messages: [{ role: 'user', content: `please answer, lie:${lie}` }],
    max_tokens: 5,
    ...extra,
  };
}

/** The most input a backend may bill for this body, as the gateway bounds it. */
function inputBoundOf(body: Record<string, unknown>): number {
  return inputTokensBound(promptContentOf(body), limits);
}

function percentile(values: number[], share: number): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * share))] ?? 0;
}

describe.each(stores)('untrusted parties on $name', (store) => {
  let liar: LyingBackend;
  let inflator: LyingBackend;
  let hugePromptLiar: LyingBackend;
  let honest: SimulatorProcess;
  let gateway: GatewayProcess;
  let closeStore: () => Promise<void>;
  let call: HttpCaller;
  let apiKey: string;
  let tenantId: string;
  let victimKey: string;
  let victimTenantId: string;
  let inflatorBackendId: string;
  let providerToken: string;

  beforeAll(async () => {
    [liar, inflator, hugePromptLiar, honest] = await Promise.all([
      serveLyingBackend(),
      serveLyingBackend(),
      serveLyingBackend({ fixedLie: 'negative' }),
      // The bystander's backend is its own process: this one also hosts the liars and the clock.
      startSimulatorProcess(['--models', honestModel, '--decode-tps', '20000']),
    ]);
    const opened = await store.open();
    closeStore = opened.close;
    gateway = await startGatewayProcess({
      adminToken,
      ...(opened.database === '' ? {} : { databasePath: opened.database }),
      environment: {
        TOKENBANK_ALLOW_PRIVATE_BACKENDS: '1',
        TOKENBANK_AUTO_APPROVE_BACKENDS: '1',
        TOKENBANK_REQUEST_TIMEOUT_S: '1',
        TOKENBANK_LIMITS: JSON.stringify({
          usageExcessClaimsMax: excessClaimsMax,
          retryCountMax: 0,
          verificationSampleBps: 10_000,
        }),
      },
    });
    call = httpCaller(gateway.url);
    const registered = await registerProvider(call, adminToken, [
      { url: liar.url, region: 'cn-east', models: [liarModel] },
      { url: inflator.url, region: 'cn-east', models: [inflatorModel] },
      { url: honest.url, region: 'cn-east', models: [honestModel] },
      { url: hugePromptLiar.url, region: 'cn-east', models: [hugePromptModel] },
    ]);
    providerToken = registered.providerToken;
    inflatorBackendId = registered.backendIds[1] ?? '';
    await priceModels(call, adminToken, [liarModel, inflatorModel, honestModel, hugePromptModel]);
    const tenant = await createTenantWithKey(call, adminToken, { name: 'target' });
    tenantId = tenant.tenantId;
    apiKey = tenant.apiKey;
    await topUp(call, adminToken, tenantId, '10.00');
    const victim = await createTenantWithKey(call, adminToken, { name: 'bystander' });
    victimKey = victim.apiKey;
    victimTenantId = victim.tenantId;
    await topUp(call, adminToken, victim.tenantId, '10.00');
  });

  afterAll(async () => {
    await gateway?.stop();
    await Promise.all([liar?.close(), inflator?.close(), hugePromptLiar?.close(), honest?.stop()]);
    await closeStore?.();
  });

  const postText = (body: string, key = apiKey) =>
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(30_000),
    });
  const post = (body: Record<string, unknown>, key = apiKey) => postText(JSON.stringify(body), key);

  /** The longest the gateway's event loop was blocked since the last read (prom-client's gauge). */
  async function eventLoopLagMaxMs(): Promise<number> {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    const match = /^tokenbank_nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text);
    if (match?.[1] === undefined) {
      throw new Error(`no event-loop gauge in /metrics: ${text.slice(0, 200)}`);
    }
    return Number(match[1]) * 1000;
  }

  async function usageOf(requestId: string): Promise<UsageRecordView> {
    const reader = tenantReader(() => call, adminToken, tenantId);
    await reader.settled();
    const record = (await reader.usageById()).get(requestId);
    if (record === undefined) {
      throw new Error(`no usage record for ${requestId}`);
    }
    return record;
  }

  it('bills two billion claimed tokens at the bound, records the claim and flags the backend', async () => {
    const body = { ...chatBody('inflate'), model: inflatorModel };
    const response = await post(body);
    expect(response.status).toBe(200);
    const record = (await usageOf(
      response.headers.get('x-request-id') ?? '',
    )) as UsageRecordView & {
      claimed_input_tokens?: number | null;
    };
    expect(record.input_tokens).toBe(inputBoundOf(body));
    expect(record.output_tokens).toBe(5);
    expect(record.usage_source).toBe('provider');
    expect(record.paid_by.every((paid) => paid.source !== 'write_off')).toBe(true);
    expect(micro(record.cost)).toBeLessThan(micro('0.01'));
    const backends = (await expectOk(call, 'GET', '/admin/v1/backends', adminToken)).data as {
      id: string;
      flags: string[];
      state: string;
    }[];
    const flagged = backends.find((backend) => backend.id === inflatorBackendId);
    expect(flagged?.flags).toContain('usage_over_bound');
  });

  it('multiplies the output bound by n, and holds a stream with usage on the wrong chunk to it', async () => {
    const body = { ...chatBody('inflate'), model: inflatorModel, n: 4 };
    const response = await post(body);
    expect(response.status).toBe(200);
    expect((await usageOf(response.headers.get('x-request-id') ?? '')).output_tokens).toBe(20);
    const streamed = await post({
      ...chatBody('usage-on-first-chunk'),
      model: inflatorModel,
      stream: true,
    });
    expect(streamed.status).toBe(200);
    expect(await streamed.text()).toContain('[DONE]');
    const record = await usageOf(streamed.headers.get('x-request-id') ?? '');
    expect(record.output_tokens).toBe(5);
    expect(record.input_tokens).toBe(3);
  });

  it('drains a backend after repeated claims past the bound', async () => {
    const backends = (await expectOk(call, 'GET', '/admin/v1/backends', adminToken)).data as {
      id: string;
      state: string;
    }[];
    expect(backends.find((backend) => backend.id === inflatorBackendId)?.state).toBe('draining');
    const refused = await post({ ...chatBody('inflate'), model: inflatorModel });
    expect(refused.status).toBe(503);
    expect(inflator.received).toHaveLength(excessClaimsMax);
  });

  it('counts for itself when the usage is negative, and bills a 2xx that is not JSON', async () => {
    const negative = await post(chatBody('negative'));
    expect(negative.status).toBe(200);
    const counted = await usageOf(negative.headers.get('x-request-id') ?? '');
    expect(counted.usage_source).toBe('gateway_count');
    expect(counted.input_tokens).toBeGreaterThan(0);
    expect(counted.output_tokens).toBeGreaterThan(0);

    const garbage = await post(chatBody('not-json'));
    expect(garbage.status).toBe(200);
    expect(await garbage.text()).toContain('this is not JSON');
    const billed = await usageOf(garbage.headers.get('x-request-id') ?? '');
    expect(billed).toMatchObject({ outcome: 'complete', usage_source: 'gateway_count' });
    expect(micro(billed.cost)).toBeGreaterThan(0n);
  });

  it('ends a stream at the request timeout, bills what was delivered and keeps no hold', async () => {
    const response = await post({ ...chatBody('slow-stream'), stream: true, max_tokens: 1000 });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('"code":"request_timeout"');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    const delivered = text.split(' slow').length - 1;
    expect(delivered).toBeGreaterThan(0);
    const record = await usageOf(response.headers.get('x-request-id') ?? '');
    expect(record.outcome).toBe('upstream_error');
    expect(record.output_tokens).toBeGreaterThanOrEqual(delivered);
    expect(record.output_tokens).toBeLessThanOrEqual(delivered * 2);
  });

  it('sends upstream only the rebuilt body: the cap always set, unknown and alias keys never', async () => {
    const before = liar.received.length;
    const response = await post({
      model: liarModel,
      messages: [{ role: 'user', content: 'lie:honest' }],
      chat_template: '{{ anything }}',
      temperature: 0.5,
    });
    expect(response.status).toBe(200);
    const sent = liar.received[before];
    expect(sent).toMatchObject({ model: liarModel, max_tokens: 4096, temperature: 0.5 });
    expect(sent).not.toHaveProperty('chat_template');
    for (const body of liar.received) {
      expect(
        typeof body.max_tokens === 'number' || typeof body.max_completion_tokens === 'number',
      ).toBe(true);
    }
  });

  it('refuses every other spelling of a metered field with a 400 naming it, and forwards nothing', async () => {
    const metered = ['model', 'messages', 'stream', 'max_tokens', 'max_completion_tokens', 'n'];
    const aliases = [
      'n_predict',
      'num_predict',
      'max_new_tokens',
      'max_length',
      'max_output_tokens',
    ];
    const respelled = fc
      .tuple(fc.constantFrom(...metered), fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }))
      .map(([name, upper]) =>
        [...name].map((letter, index) => (upper[index] ? letter.toUpperCase() : letter)).join(''),
      )
      .filter((name) => !metered.includes(name));
    const before = liar.received.length;
    await fc.assert(
      fc.asyncProperty(fc.oneof(respelled, fc.constantFrom(...aliases)), async (field) => {
        const response = await post({ ...chatBody('honest'), [field]: true });
        expect(response.status).toBe(400);
        const error = ((await response.json()) as { error: { param: string } }).error;
        expect(error.param).toBe(field);
      }),
      { seed: 20261205, numRuns: 40 },
    );
    expect(liar.received.length).toBe(before);
  });

  it('counts huge prompts off the event loop, and pays providers only on what was collected', async () => {
    const timed = async () => {
      const startedAtMs = performance.now();
      const response = await post(
        { model: honestModel, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 },
        victimKey,
      );
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      return performance.now() - startedAtMs;
    };
    // Warm the bystander's path first (connections, compiled code), then measure it alone.
    for (let index = 0; index < 20; index += 1) {
      await timed();
    }
    const baseline: number[] = [];
    for (let index = 0; index < 40; index += 1) {
      baseline.push(await timed());
    }
    // No usable usage on prompts of 200,000 Chinese characters: the gateway counts each itself.
    // On its event loop that would stall every request for about 0.9 s a prompt.
    const huge = '算力银行把闲置的计算能力卖给中小企业'.repeat(11_000);
    await eventLoopLagMaxMs(); // Reading the gauge starts its window afresh.
    const attack = Promise.all(
      Array.from({ length: 4 }, () =>
        post({
          model: hugePromptModel,
          messages: [{ role: 'user', content: huge }],
          max_tokens: 5,
        }).then((response) => response.arrayBuffer()),
      ),
    );
    const during: number[] = [];
    for (let index = 0; index < 40; index += 1) {
      during.push(await timed());
    }
    await attack;
    const lagMaxMs = await eventLoopLagMaxMs();
    console.log(
      `untrusted parties on ${store.name}: bystander p99 ${percentile(baseline, 0.99).toFixed(1)} ms alone, ` +
        `${percentile(during, 0.99).toFixed(1)} ms during the attack; gateway event loop blocked ${lagMaxMs.toFixed(1)} ms at most`,
    );
    // Latency on a shared 2-core machine is noise, not a verdict (the benchmarks measure it):
    // what must hold is that no count ran on the event loop, which would block it ~900 ms.
    expect(lagMaxMs).toBeLessThan(300);

    const records: UsageRecordView[] = [];
    for (const id of [tenantId, victimTenantId]) {
      const reader = tenantReader(() => call, adminToken, id);
      await reader.settled();
      records.push(...(await reader.usageById()).values());
    }
    const collected = sum(
      records.flatMap((record) =>
        record.paid_by
          .filter((paid) => paid.source !== 'write_off')
          .map((paid) => micro(paid.amount)),
      ),
    );
    const earnings = await expectOk(call, 'GET', '/provider/v1/earnings', providerToken);
    // The provider's share is 80% of what tenants paid, never of anything written off.
    expect(micro(String(earnings.total_earned))).toBeLessThanOrEqual(
      (collected * 8_000n) / 10_000n + 1n,
    );
    const check = await expectOk(call, 'GET', '/admin/v1/ledger/check', adminToken);
    expect(check).toMatchObject({ ok: true, problems: [] });
  });
});

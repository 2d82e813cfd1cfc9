/**
 * Two isolates of the gateway Worker on the same Durable Objects, as two Cloudflare locations run
 * it: a change made through one (a revoked key, a price published, a backend drained) reaches
 * the other through the coordinator object's change log at its next poll, long before the caches'
 * own refresh (set far beyond the test here, so only the change log can explain what is seen).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, type HttpCaller, httpCaller } from './support/demo-pool.ts';
import { fastSimulatorForFile } from './support/fast-simulator.ts';
import { micro } from './support/money-reading.ts';
import { pollUntil } from './support/poll-until.ts';
import { firstTenant, type SeededTenant, seedPool } from './support/seeded-pool.ts';
import {
  startWorkersRuntime,
  suiteVariables,
  type WorkersRuntime,
} from './support/workers-runtime.ts';

const model = 'sim-chat';
const adminToken = `tba-${'c'.repeat(32)}`;
const simulator = fastSimulatorForFile({ models: [model], region: 'east' });

let runtime: WorkersRuntime | undefined;
let first: HttpCaller;
let tenant: SeededTenant;

beforeAll(async () => {
  runtime = await startWorkersRuntime(
    {
      ...suiteVariables(adminToken),
      // Every request reads the change log; the caches never expire within the test.
      TOKENBANK_LIMITS: JSON.stringify({
        catalogChangePollMs: 0,
        credentialCacheTtlMs: 600_000,
        catalogRefreshMs: 3_600_000,
      }),
    },
    { gatewayCount: 2 },
  );
  first = httpCaller(runtime.url);
  const seeded = await seedPool(first, adminToken, {
    backends: [{ url: simulator().url, region: 'east', models: [model] }],
    tenants: [{ tenant: { name: 'edge' }, topUp: '100' }],
  });
  tenant = firstTenant(seeded);
}, 120_000);

function secondUrl(): string {
  const url = runtime?.urls[1];
  if (url === undefined) {
    throw new Error('the second isolate did not start');
  }
  return url;
}

afterAll(async () => {
  await runtime?.close();
});

function chat(baseUrl: string, apiKey = tenant.apiKey): Promise<Response> {
  return fetch(`${baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4 }),
  });
}

/** The cost the gateway reports for a request, and what the new price would make of its usage. */
async function pricedChat(baseUrl: string) {
  const response = await chat(baseUrl);
  expect(response.status).toBe(200);
  const { usage } = (await response.json()) as {
    usage: { prompt_tokens: number; completion_tokens: number };
  };
  return {
    costMicro: micro(String(response.headers.get('x-tokenbank-cost'))),
    // 7.00 and 9.00 per million tokens: 7 and 9 micro-units a token.
    atNewPriceMicro: BigInt(usage.prompt_tokens) * 7n + BigInt(usage.completion_tokens) * 9n,
  };
}

describe('catalog changes between Worker isolates', () => {
  it('a price published through one isolate prices the next requests of the other', async () => {
    const before = await pricedChat(secondUrl());
    expect(before.costMicro).not.toBe(before.atNewPriceMicro);
    await expectOk(first, 'PUT', `/admin/v1/prices/${model}`, adminToken, {
      input: '7.00',
      output: '9.00',
    });
    await pollUntil(async () => {
      const after = await pricedChat(secondUrl());
      return after.costMicro === after.atNewPriceMicro ? after : undefined;
    }, 'the second isolate to price at the new version');
  });

  it('a key revoked through one isolate is refused by the other', async () => {
    expect((await chat(secondUrl())).status).toBe(200);
    await expectOk(first, 'DELETE', `/admin/v1/keys/${tenant.keyId}`, adminToken);
    const refused = await pollUntil(async () => {
      const response = await chat(secondUrl());
      return response.status === 200 ? undefined : response;
    }, 'the second isolate to refuse the revoked key');
    expect(refused.status).toBe(401);
  });
});

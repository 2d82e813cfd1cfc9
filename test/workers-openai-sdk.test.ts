/**
 * The official `openai` SDK against the gateway on Cloudflare Workers, in real workerd (Miniflare
 * over the bundle wrangler builds), with a fast simulator on loopback as the backend: models,
 * chat completions plain and streamed (with the usage chunk), embeddings, and the errors a client
 * sees (a bad key, an unknown model, no money), in OpenAI's envelope. Each request's money moves
 * in the tenant's Durable Object: the usage record and the balance say what the SDK was told.
 */
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantWithKey, expectOk, type HttpCaller, httpCaller } from './support/demo-pool.ts';
import { fastSimulatorForFile } from './support/fast-simulator.ts';
import { micro } from './support/money-reading.ts';
import { gatewayClient, sdkFailure } from './support/openai-client.ts';
import { firstTenant, type SeededTenant, seedPool } from './support/seeded-pool.ts';
import {
  startWorkersRuntime,
  suiteVariables,
  type WorkersRuntime,
} from './support/workers-runtime.ts';

const chatModel = 'sim-chat';
const embeddingModel = 'sim-embed';
const adminToken = `tba-${'k'.repeat(32)}`;
const hello = [{ role: 'user' as const, content: 'Say hello to the computing power bank.' }];

const simulator = fastSimulatorForFile({ models: [chatModel, embeddingModel], region: 'east' });
let runtime: WorkersRuntime | undefined;
let call: HttpCaller;
let tenant: SeededTenant;
let brokeKey: string;

function gatewayUrl(): string {
  if (!runtime) {
    throw new Error('the Worker did not start');
  }
  return runtime.url;
}

function client(apiKey = tenant.apiKey): OpenAI {
  return gatewayClient({ baseURL: `${gatewayUrl()}/v1`, apiKey, timeoutMs: 30_000 });
}

beforeAll(async () => {
  runtime = await startWorkersRuntime({
    ...suiteVariables(adminToken),
  });
  call = httpCaller(runtime.url);
  const seeded = await seedPool(call, adminToken, {
    backends: [{ url: simulator().url, region: 'east', models: [chatModel, embeddingModel] }],
    tenants: [{ tenant: { name: 'edge' }, topUp: '100' }],
  });
  tenant = firstTenant(seeded);
  ({ apiKey: brokeKey } = await createTenantWithKey(call, adminToken, { name: 'broke' }));
}, 120_000);

afterAll(async () => {
  await runtime?.close();
});

async function balanceMicro(): Promise<bigint> {
  const view = await expectOk(call, 'GET', `/admin/v1/tenants/${tenant.tenantId}`, adminToken);
  return micro(String(view.balance));
}

describe('the official OpenAI SDK against the gateway Worker', () => {
  it('lists the models the backends serve', async () => {
    const ids = [];
    for await (const model of client().models.list()) {
      ids.push(model.id);
    }
    expect(ids.sort()).toEqual([chatModel, embeddingModel]);
  });

  it('creates a chat completion and bills exactly what it reports', async () => {
    const before = await balanceMicro();
    const { data, response } = await client()
      .chat.completions.create({ model: chatModel, messages: hello, max_tokens: 12 })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.usage?.completion_tokens).toBe(12);
    const requestId = response.headers.get('x-request-id');
    expect(requestId).toMatch(/^req_/);
    const usage = await expectOk(
      call,
      'GET',
      `/admin/v1/tenants/${tenant.tenantId}/usage`,
      adminToken,
    );
    const records = usage.data as { request_id: string; cost: string; output_tokens: number }[];
    const record = records.find((candidate) => candidate.request_id === requestId);
    expect(record?.output_tokens).toBe(12);
    expect(before - (await balanceMicro())).toBe(micro(String(record?.cost)));
  });

  it('streams a chat completion to its end, with the usage chunk', async () => {
    const stream = await client().chat.completions.create({
      model: chatModel,
      messages: hello,
      max_tokens: 7,
      stream: true,
      stream_options: { include_usage: true },
    });
    const words: string[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      const content = chunk.choices[0]?.delta.content;
      if (content) {
        words.push(content);
      }
      usage = chunk.usage ?? usage;
    }
    expect(words).toHaveLength(7);
    expect(usage?.completion_tokens).toBe(7);
  });

  it('creates embeddings', async () => {
    const result = await client().embeddings.create({
      model: embeddingModel,
      input: ['one', 'two'],
    });
    expect(result.data).toHaveLength(2);
    expect(result.data[0]?.embedding.length).toBeGreaterThan(0);
  });

  it('refuses a bad key, an unknown model and a tenant without money, in OpenAI errors', async () => {
    const badKey = await sdkFailure(client('tbk-not-a-key').models.list());
    expect(badKey.status).toBe(401);
    const unknown = await sdkFailure(
      client().chat.completions.create({ model: 'no-such-model', messages: hello }),
    );
    expect(unknown.status).toBe(404);
    const broke = await sdkFailure(
      client(brokeKey).chat.completions.create({ model: chatModel, messages: hello }),
    );
    expect(broke.status).toBe(429);
    expect(broke.code).toBe('insufficient_quota');
  });

  it('serves the web console from its static assets, under the console headers', async () => {
    const page = await fetch(`${gatewayUrl()}/console`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await page.text()).toContain('/console/assets/console.js');
    const script = await fetch(`${gatewayUrl()}/console/assets/console.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await script.text()).length).toBeGreaterThan(1000);
    const missing = await fetch(`${gatewayUrl()}/console/assets/nothing.js`);
    expect(missing.status).toBe(404);
  });

  it('says what Workers do not serve instead of imitating it', async () => {
    const metrics = await fetch(`${gatewayUrl()}/metrics`);
    expect(metrics.status).toBe(501);
    const body = (await metrics.json()) as { error: { code: string } };
    expect(body.error.code).toBe('not_supported_by_runtime');
  });
});

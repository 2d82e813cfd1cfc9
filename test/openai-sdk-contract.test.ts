/**
 * Contract tests: the official `openai` SDK against a real `tokenbank serve` process and real
 * `tokenbank sim` processes. If the SDK is happy, every OpenAI client is.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenantWithKey,
  expectOk,
  type HttpCaller,
  registerProvider,
} from './support/demo-pool.ts';
import { gatewayClient, sdkFailure } from './support/openai-client.ts';
import {
  type GatewayWithSimulators,
  seedPool,
  startGatewayWithSimulators,
} from './support/seeded-pool.ts';
import type { GatewayProcess } from './support/spawn-gateway.ts';
import { type SimulatorProcess, setSimulatorFaults } from './support/spawn-simulator.ts';

const chatModel = 'sim-chat';
const otherModel = 'sim-other';
const embeddingModel = 'sim-embed';
const adminToken = `tba-${'c'.repeat(32)}`;

let pool: GatewayWithSimulators<'east' | 'west'> | undefined;
let gateway: GatewayProcess;
let east: SimulatorProcess;
let west: SimulatorProcess;
let call: HttpCaller;
let apiKey: string;
let scopedKey: string;
let revokedKey: string;
let fencedKey: string;

function client(key = apiKey): OpenAI {
  return gatewayClient({ baseURL: `${gateway.url}/v1`, apiKey: key, timeoutMs: 20_000 });
}

const hello = [{ role: 'user' as const, content: 'Say hello to the computing power bank.' }];

beforeAll(async () => {
  const fast = ['--decode-tps', '20000', '--prefill-tps', '1000000'];
  pool = await startGatewayWithSimulators({
    adminToken,
    simulators: {
      east: [
        '--region',
        'east',
        '--models',
        `${chatModel},${otherModel},${embeddingModel}`,
        ...fast,
      ],
      west: ['--region', 'west', '--models', chatModel, ...fast],
    },
  });
  ({ gateway, call } = pool);
  ({ east, west } = pool.simulators);
  const seeded = await seedPool(call, adminToken, {
    backends: [
      { url: east.url, region: 'east', models: [chatModel, otherModel, embeddingModel] },
      { url: west.url, region: 'west', models: [chatModel] },
    ],
    tenants: [
      { tenant: { name: 'sme' }, topUp: '100' },
      { tenant: { name: 'scoped' }, key: { models: [chatModel] }, topUp: '100' },
      { tenant: { name: 'gone' } },
    ],
  });
  const [sme, scoped, revoked] = seeded.tenants;
  if (sme === undefined || scoped === undefined || revoked === undefined) {
    throw new Error('the pool was seeded without its three tenants');
  }
  apiKey = sme.apiKey;
  scopedKey = scoped.apiKey;
  revokedKey = revoked.apiKey;
  await expectOk(call, 'DELETE', `/admin/v1/keys/${revoked.keyId}`, adminToken);
  ({ apiKey: fencedKey } = await createTenantWithKey(call, adminToken, {
    name: 'fenced',
    allowed_regions: ['north'],
  }));
});

afterAll(async () => {
  await pool?.stop();
});

describe('the official OpenAI SDK against tokenbank', () => {
  it('creates a chat completion and reports usage consistent with the text', async () => {
    const { data, response } = await client()
      .chat.completions.create({ model: chatModel, messages: hello, max_tokens: 12 })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.model).toBe(chatModel);
    const content = data.choices[0]?.message.content ?? '';
    expect(content.trim().split(/\s+/)).toHaveLength(12);
    expect(data.usage?.completion_tokens).toBe(12);
    expect(data.choices[0]?.finish_reason).toBe('length');
    expect(response.headers.get('x-request-id')).toMatch(/^req_/);
    expect(['east', 'west']).toContain(response.headers.get('x-tokenbank-backend-region'));
  });

  it('streams a chat completion chunk by chunk and ends cleanly', async () => {
    const stream = await client().chat.completions.create({
      model: chatModel,
      messages: hello,
      max_tokens: 9,
      stream: true,
    });
    const words: string[] = [];
    let finishReason: string | null | undefined;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice?.delta.content) {
        words.push(choice.delta.content);
      }
      finishReason = choice?.finish_reason ?? finishReason;
    }
    expect(words).toHaveLength(9);
    expect(finishReason).toBe('length');
  });

  it('passes stream_options.include_usage through and delivers the usage chunk', async () => {
    const stream = await client().chat.completions.create({
      model: chatModel,
      messages: hello,
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      usage = chunk.usage ?? usage;
    }
    expect(usage?.completion_tokens).toBe(5);
    expect(usage?.total_tokens).toBe((usage?.prompt_tokens ?? 0) + 5);
  });

  it('creates legacy completions, plain and streamed', async () => {
    const plain = await client().completions.create({
      model: chatModel,
      prompt: 'Once',
      max_tokens: 4,
    });
    expect(plain.object).toBe('text_completion');
    expect(plain.usage?.completion_tokens).toBe(4);
    const stream = await client().completions.create({
      model: chatModel,
      prompt: 'Once',
      max_tokens: 6,
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? '';
    }
    expect(text.trim().split(/\s+/)).toHaveLength(6);
  });

  it('creates embeddings for a string and for an array', async () => {
    const single = await client().embeddings.create({
      model: embeddingModel,
      input: 'compute coupon',
    });
    expect(single.data).toHaveLength(1);
    expect(single.data[0]?.embedding.length).toBeGreaterThan(0);
    const batch = await client().embeddings.create({
      model: embeddingModel,
      input: ['a', 'b', 'c'],
    });
    expect(batch.data.map((item) => item.index)).toEqual([0, 1, 2]);
    expect(batch.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it('lists and retrieves models with pricing and regions', async () => {
    await expectOk(call, 'PUT', `/admin/v1/prices/${chatModel}`, adminToken, {
      input: '2.50',
      output: '10',
    });
    const page = await client().models.list();
    const ids = page.data.map((model) => model.id).sort();
    expect(ids).toEqual([chatModel, embeddingModel, otherModel].sort());
    const chat = (await client().models.retrieve(chatModel)) as OpenAI.Model & {
      pricing: unknown;
      regions: string[];
    };
    expect(chat.owned_by).toBe('tokenbank');
    const regionPrice = (region: string) => ({
      region,
      input: '2.50',
      cached_input: '2.50',
      output: '10.00',
      card_hour: null,
      offpeak: [],
    });
    expect(chat.pricing).toEqual({
      input: '2.50',
      cached_input: '2.50',
      output: '10.00',
      card_hour: null,
      currency: 'CNY',
      regions: [regionPrice('east'), regionPrice('west')],
    });
    expect(chat.regions).toEqual(['east', 'west']);
  });
});

describe('errors reach the SDK as its own error classes', () => {
  it('unknown key: AuthenticationError 401 invalid_api_key', async () => {
    const error = await sdkFailure(client('tbk-unknown').models.list());
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(error.status).toBe(401);
    expect(error.code).toBe('invalid_api_key');
    expect(error.requestID).toMatch(/^req_/);
  });

  it('revoked key: AuthenticationError 401 invalid_api_key', async () => {
    const error = await sdkFailure(
      client(revokedKey).chat.completions.create({ model: chatModel, messages: hello }),
    );
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(error.code).toBe('invalid_api_key');
  });

  it('missing messages: BadRequestError 400 invalid_request naming the field', async () => {
    const error = await sdkFailure(
      client().chat.completions.create({
        model: chatModel,
      } as OpenAI.ChatCompletionCreateParamsNonStreaming),
    );
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.code).toBe('invalid_request');
    expect(error.param).toBe('messages');
  });

  it('absurd max_tokens: BadRequestError 400', async () => {
    const error = await sdkFailure(
      client().chat.completions.create({ model: chatModel, messages: hello, max_tokens: -5 }),
    );
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.param).toBe('max_tokens');
  });

  it('body over the limit: 413 request_too_large', async () => {
    const huge = 'x'.repeat(4 * 1024 * 1024 + 10);
    const error = await sdkFailure(
      client().chat.completions.create({
        model: chatModel,
        messages: [{ role: 'user', content: huge }],
      }),
    );
    expect(error.status).toBe(413);
    expect(error.code).toBe('request_too_large');
  });

  it('unknown model: NotFoundError 404 model_not_found', async () => {
    const error = await sdkFailure(
      client().chat.completions.create({ model: 'nope', messages: hello }),
    );
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error.code).toBe('model_not_found');
  });

  it('model outside the key scope: NotFoundError 404 model_not_found', async () => {
    const error = await sdkFailure(
      client(scopedKey).chat.completions.create({ model: otherModel, messages: hello }),
    );
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error.code).toBe('model_not_found');
    const allowed = await client(scopedKey).chat.completions.create({
      model: chatModel,
      messages: hello,
      max_tokens: 1,
    });
    expect(allowed.choices).toHaveLength(1);
  });

  it('no backend in the allowed regions: 503 no_backend_in_allowed_regions', async () => {
    const error = await sdkFailure(
      client(fencedKey).chat.completions.create({ model: chatModel, messages: hello }),
    );
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(error.status).toBe(503);
    expect(error.code).toBe('no_backend_in_allowed_regions');
    expect(error.headers?.get('x-should-retry')).toBe('false');
  });

  it('every backend failing: 502 upstream_error', async () => {
    await setSimulatorFaults(east, ['fast-503']);
    try {
      const error = await sdkFailure(
        client().chat.completions.create({ model: otherModel, messages: hello }),
      );
      expect(error).toBeInstanceOf(OpenAI.InternalServerError);
      expect(error.status).toBe(502);
      expect(error.code).toBe('upstream_error');
    } finally {
      await setSimulatorFaults(east, []);
    }
  });

  it('no routable backend: 503 no_capacity with retry-after', async () => {
    const { providerToken, backendIds } = await registerProvider(call, adminToken, [
      { url: east.url, region: 'south', models: ['sim-drained'] },
    ]);
    await expectOk(call, 'PATCH', `/provider/v1/backends/${backendIds[0]}`, providerToken, {
      state: 'draining',
    });
    const error = await sdkFailure(
      client().chat.completions.create({ model: 'sim-drained', messages: hello }),
    );
    expect(error.status).toBe(503);
    expect(error.code).toBe('no_capacity');
    expect(error.headers?.get('retry-after')).toBe('1');
  });
});

/**
 * POST /v1/responses end to end through the official `openai` SDK: the app in-process over a real
 * SQLite ledger, in front of simulators served in-process. A response's text is the simulator's
 * answer, its usage is what the ledger billed (the usage record's tokens, the cost header), a
 * stream's typed events come in order with sequence numbers and end with the usage, an answer cut
 * by max_output_tokens is incomplete, a cut stream fails and is billed for what was delivered, and
 * what is not served is refused with a 400 naming the field before anything is reserved.
 */
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeTextVocabulary } from '../src/simulator/fake-text.ts';
import { createTenantWithKey, expectOk, type HttpCaller, topUp } from './support/demo-pool.ts';
import { fastSimulatorForFile } from './support/fast-simulator.ts';
import {
  type InProcessGateway,
  inProcessCaller,
  inProcessOpenAI,
  startInProcessGateway,
  testAdminToken,
} from './support/in-process-gateway.ts';
import { sdkFailure } from './support/openai-client.ts';
import { seedPool } from './support/seeded-pool.ts';
import { tenantReader, type UsageRecordView } from './support/tenant-money.ts';

const model = 'resp-chat';
const cutModel = 'resp-cut';
const simulator = fastSimulatorForFile({ models: [model] });
const cuttingSimulator = fastSimulatorForFile({ models: [cutModel], faults: ['cut'] });

let gateway: InProcessGateway;
let call: HttpCaller;

beforeAll(async () => {
  gateway = await startInProcessGateway({ config: { allowPrivateBackends: true } });
  call = inProcessCaller(gateway);
  await seedPool(call, testAdminToken, {
    backends: [
      { url: simulator().url, region: 'east', models: [model] },
      { url: cuttingSimulator().url, region: 'east', models: [cutModel] },
    ],
    // 1 per 1M input tokens, 1,000,000 per 1M output tokens: each output token costs 1.00.
    price: { input: '1', output: '1000000' },
    tenants: [],
  });
});

afterAll(async () => {
  await gateway?.close();
});

/** A tenant with a key, an SDK client for it, and its money and usage as the admin API shows. */
async function newTenant(balance: string) {
  const created = await createTenantWithKey(call, testAdminToken, { name: 'responses' });
  if (balance !== '0') {
    await topUp(call, testAdminToken, created.tenantId, balance);
  }
  const reader = tenantReader(() => call, testAdminToken, created.tenantId);
  return {
    client: inProcessOpenAI(gateway, created.apiKey),
    reader,
    /**
     * The tenant's one usage record (each test's tenant makes one metered request), once settled:
     * a stream settles just after its last byte.
     */
    async onlyUsage(): Promise<UsageRecordView | undefined> {
      await reader.settled();
      await gateway.deps.background.drain();
      const records = [...(await reader.usageById()).values()];
      expect(records).toHaveLength(1);
      return records[0];
    },
  };
}

/** The simulator's text: words of its vocabulary, one token each. */
function simulatorWords(text: string): string[] {
  const words = text.match(/ [^ ]+/g) ?? [];
  expect(words.join('')).toBe(text);
  for (const word of words) {
    expect(fakeTextVocabulary).toContain(word);
  }
  return words;
}

async function expectLedgerClean(): Promise<void> {
  await gateway.deps.background.drain();
  expect(await expectOk(call, 'GET', '/admin/v1/ledger/check', testAdminToken)).toMatchObject({
    ok: true,
    problems: [],
  });
}

describe('a Responses request answered as JSON', () => {
  it("carries the simulator's answer and the usage the ledger billed", async () => {
    const { client, onlyUsage } = await newTenant('100');
    const { data, response } = await client.responses
      .create({ model, input: 'Say hello to the computing power bank.', max_output_tokens: 7 })
      .withResponse();
    expect(data).toMatchObject({ object: 'response', model, max_output_tokens: 7 });
    expect(data.id).toMatch(/^resp_/);
    expect(data.output).toHaveLength(1);
    expect(data.output[0]).toMatchObject({ type: 'message', role: 'assistant' });
    expect(simulatorWords(data.output_text)).toHaveLength(7);
    expect(response.headers.get('x-tokenbank-backend-region')).toBe('east');
    const record = await onlyUsage();
    expect(record).toMatchObject({
      outcome: 'complete',
      usage_source: 'provider',
      input_tokens: data.usage?.input_tokens,
      output_tokens: data.usage?.output_tokens,
      cost: response.headers.get('x-tokenbank-cost'),
    });
    expect(data.usage?.total_tokens).toBe((data.usage?.input_tokens ?? 0) + 7);
    await expectLedgerClean();
  });

  it('reads message items like the same string, and sends instructions as a system message', async () => {
    const { client } = await newTenant('100');
    const question = 'What does the bank sell?';
    const asString = await client.responses.create({
      model,
      input: question,
      max_output_tokens: 3,
    });
    const asItems = await client.responses.create({
      model,
      input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: question }] }],
      max_output_tokens: 3,
    });
    const instructed = await client.responses.create({
      model,
      instructions: 'Answer in one short sentence, kindly.',
      input: [{ role: 'user', content: question }],
      max_output_tokens: 3,
      metadata: { order: 'A-17' },
      temperature: 0.2,
    });
    expect(asItems.usage?.input_tokens).toBe(asString.usage?.input_tokens);
    expect(instructed.usage?.input_tokens).toBeGreaterThan(asString.usage?.input_tokens ?? 0);
    expect(instructed).toMatchObject({
      instructions: 'Answer in one short sentence, kindly.',
      metadata: { order: 'A-17' },
      temperature: 0.2,
    });
    expect(simulatorWords(instructed.output_text)).toHaveLength(3);
  });

  it('is incomplete for max_output_tokens when the answer was cut at the cap', async () => {
    const { client } = await newTenant('10000');
    const capped = await client.responses.create({
      model,
      input: 'Tell a long story.',
      max_output_tokens: 4,
    });
    expect(capped.status).toBe('incomplete');
    expect(capped.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(capped.usage?.output_tokens).toBe(4);
    const whole = await client.responses.create({ model, input: 'Tell a short story.' });
    expect(whole.status).toBe('completed');
    expect(whole.incomplete_details).toBeNull();
  });
});

describe('a streamed Responses request', () => {
  it('sends typed events in order with sequence numbers, ending with the billed usage', async () => {
    const { client, onlyUsage } = await newTenant('100');
    const stream = await client.responses.create({
      model,
      input: 'Stream hello.',
      max_output_tokens: 6,
      stream: true,
    });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) {
      events.push(event);
    }
    const types = events.map((event) => event.type);
    expect(types.slice(0, 4)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
    ]);
    expect(types.slice(4, -4).every((type) => type === 'response.output_text.delta')).toBe(true);
    expect(types.slice(-4)).toEqual([
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.incomplete',
    ]);
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    const deltas = events.flatMap((event) =>
      event.type === 'response.output_text.delta' ? [event.delta] : [],
    );
    expect(simulatorWords(deltas.join(''))).toHaveLength(6);
    const last = events.at(-1);
    if (last?.type !== 'response.incomplete') {
      throw new Error(`the stream ended with ${last?.type}`);
    }
    expect(last.response.output[0]).toMatchObject({
      type: 'message',
      status: 'incomplete',
      content: [{ type: 'output_text', text: deltas.join('') }],
    });
    const record = await onlyUsage();
    expect(record).toMatchObject({
      outcome: 'complete',
      usage_source: 'provider',
      input_tokens: last.response.usage?.input_tokens,
      output_tokens: 6,
    });
    expect(last.response.usage?.output_tokens).toBe(6);
    await expectLedgerClean();
  });

  it('ends with response.completed when the answer ends by itself', async () => {
    const { client } = await newTenant('10000');
    const stream = await client.responses.create({ model, input: 'Stream it all.', stream: true });
    let last: OpenAI.Responses.ResponseStreamEvent | undefined;
    for await (const event of stream) {
      last = event;
    }
    expect(last?.type).toBe('response.completed');
    if (last?.type === 'response.completed') {
      expect(last.response.status).toBe('completed');
      expect(last.response.usage?.output_tokens).toBeGreaterThan(0);
    }
  });

  it('fails when the backend cuts the stream, and bills only what was delivered', async () => {
    const { client, onlyUsage } = await newTenant('100');
    const stream = await client.responses.create({
      model: cutModel,
      input: 'Stream until cut.',
      max_output_tokens: 40,
      stream: true,
    });
    let delivered = '';
    let last: OpenAI.Responses.ResponseStreamEvent | undefined;
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') {
        delivered += event.delta;
      }
      last = event;
    }
    expect(last?.type).toBe('response.failed');
    if (last?.type === 'response.failed') {
      expect(last.response.status).toBe('failed');
      expect(last.response.error?.code).toBe('server_error');
    }
    const words = simulatorWords(delivered).length;
    expect(words).toBeGreaterThan(0);
    expect(words).toBeLessThan(40);
    const record = await onlyUsage();
    expect(record).toMatchObject({ outcome: 'upstream_error', output_tokens: words });
    await expectLedgerClean();
  });
});

describe('what is not served is refused before anything is reserved', () => {
  it.each([
    {
      name: 'a built-in tool',
      fields: { tools: [{ type: 'web_search' as const }] },
      param: 'tools',
    },
    {
      name: 'a stored response',
      fields: { previous_response_id: 'resp_earlier' },
      param: 'previous_response_id',
    },
    { name: 'a background run', fields: { background: true }, param: 'background' },
  ])('$name: 400 naming $param, nothing charged', async ({ fields, param }) => {
    const { client, reader } = await newTenant('100');
    const error = await sdkFailure(
      client.responses.create({
        model,
        input: 'hello',
        ...fields,
      } as OpenAI.Responses.ResponseCreateParamsNonStreaming),
    );
    expect(error.status).toBe(400);
    expect(error.param).toBe(param);
    expect(error.code).toBe('invalid_request');
    expect((await reader.view()).balance).toBe('100.00');
    expect((await reader.usageById()).size).toBe(0);
  });

  it('answers a tenant without money 429 insufficient_quota, as chat does', async () => {
    const { client, reader } = await newTenant('0');
    const error = await sdkFailure(client.responses.create({ model, input: 'hello' }));
    expect(error.status).toBe(429);
    expect(error.code).toBe('insufficient_quota');
    expect(error.type).toBe('insufficient_quota');
    expect((await reader.view()).balance).toBe('0.00');
  });

  it('answers an unknown model 404 model_not_found', async () => {
    const { client } = await newTenant('100');
    const error = await sdkFailure(
      client.responses.create({ model: 'no-such-model', input: 'hello' }),
    );
    expect(error.status).toBe(404);
    expect(error.code).toBe('model_not_found');
  });
});

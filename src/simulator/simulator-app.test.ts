import { describe, expect, it } from 'vitest';
import { fakeText } from './fake-text.ts';
import { createFastSimulator, parseServerSentEvents, postJson } from './fast-simulator.ts';
import { createSimulatorApp } from './simulator-app.ts';

const messages = [{ role: 'user', content: 'Say something, simulator.' }];
/** 25 UTF-8 bytes of prompt at four bytes per token. */
const messagesPromptTokens = 7;

type ChunkShape = {
  object: string;
  choices: { delta?: { role?: string; content?: string }; text?: string; finish_reason: unknown }[];
  usage?: unknown;
};

describe('GET /v1/models', () => {
  it('lists the configured models in OpenAI shape', async () => {
    const simulator = createFastSimulator({ models: ['alpha', 'beta'] });
    const response = await simulator.app.request('/v1/models');
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body).toEqual({
      object: 'list',
      data: [
        { id: 'alpha', object: 'model', created: expect.any(Number), owned_by: 'tokenbank-sim' },
        { id: 'beta', object: 'model', created: expect.any(Number), owned_by: 'tokenbank-sim' },
      ],
    });
  });
});

describe('GET /v1/models/{id}', () => {
  it('returns one served model, and 404 for any other', async () => {
    const simulator = createFastSimulator({ models: ['alpha'] });
    const found = await simulator.app.request('/v1/models/alpha');
    expect(await found.json()).toMatchObject({ id: 'alpha', object: 'model' });
    const missing = await simulator.app.request('/v1/models/beta');
    expect(missing.status).toBe(404);
    expect((await missing.json()).error.code).toBe('model_not_found');
  });
});

describe('POST /v1/chat/completions', () => {
  it('answers in OpenAI shape with usage matching the text', async () => {
    const simulator = createFastSimulator();
    const response = await postJson(simulator, '/v1/chat/completions', {
      model: 'sim-model',
      messages,
      max_tokens: 5,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      id: expect.stringMatching(/^chatcmpl-/),
      object: 'chat.completion',
      created: expect.any(Number),
      model: 'sim-model',
      system_fingerprint: expect.any(String),
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: fakeText(5), refusal: null },
          logprobs: null,
          finish_reason: 'length',
        },
      ],
      usage: { prompt_tokens: messagesPromptTokens, completion_tokens: 5, total_tokens: 12 },
    });
  });

  it('generates the default length and stops with "stop" without a max_tokens', async () => {
    const simulator = createFastSimulator({ outputTokensDefault: 9 });
    const response = await postJson(simulator, '/v1/chat/completions', {
      model: 'sim-model',
      messages,
    });
    const body = await response.json();
    expect(body.choices[0].finish_reason).toBe('stop');
    expect(body.usage.completion_tokens).toBe(9);
  });

  it('prefers max_completion_tokens over max_tokens', async () => {
    const simulator = createFastSimulator();
    const response = await postJson(simulator, '/v1/chat/completions', {
      model: 'sim-model',
      messages,
      max_tokens: 50,
      max_completion_tokens: 3,
    });
    expect((await response.json()).usage.completion_tokens).toBe(3);
  });

  it('streams one chunk per token, then the finish chunk, the usage chunk and [DONE]', async () => {
    const simulator = createFastSimulator();
    const response = await postJson(simulator, '/v1/chat/completions', {
      model: 'sim-model',
      messages,
      max_tokens: 4,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const text = await response.text();
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    const events = parseServerSentEvents(text);
    expect(events).toHaveLength(1 + 4 + 1 + 1 + 1);
    const chunks = events.slice(0, -1) as ChunkShape[];
    for (const chunk of chunks) {
      expect(chunk.object).toBe('chat.completion.chunk');
    }
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '' });
    const content = chunks
      .slice(1, 5)
      .map((chunk) => chunk.choices[0]?.delta?.content)
      .join('');
    expect(content).toBe(fakeText(4));
    expect(chunks[5]?.choices[0]).toMatchObject({ delta: {}, finish_reason: 'length' });
    expect(chunks.slice(0, 6).every((chunk) => chunk.usage === null)).toBe(true);
    expect(chunks[6]).toMatchObject({
      choices: [],
      usage: { prompt_tokens: messagesPromptTokens, completion_tokens: 4, total_tokens: 11 },
    });
  });

  it('sends no usage at all in a stream that did not ask for it', async () => {
    const simulator = createFastSimulator();
    const response = await postJson(simulator, '/v1/chat/completions', {
      model: 'sim-model',
      messages,
      max_tokens: 2,
      stream: true,
    });
    const chunks = parseServerSentEvents(await response.text()).slice(0, -1) as ChunkShape[];
    expect(chunks).toHaveLength(4);
    expect(chunks.every((chunk) => !('usage' in chunk))).toBe(true);
  });

  it('counts prompt tokens from text content parts', async () => {
    const simulator = createFastSimulator();
    const response = await postJson(simulator, '/v1/chat/completions', {
      model: 'sim-model',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'x'.repeat(40) }] }],
      max_tokens: 1,
    });
    expect((await response.json()).usage.prompt_tokens).toBe(10);
  });
});

describe('POST /v1/completions', () => {
  it('answers a legacy completion in OpenAI shape', async () => {
    const simulator = createFastSimulator();
    const response = await postJson(simulator, '/v1/completions', {
      model: 'sim-model',
      prompt: 'x'.repeat(16),
      max_tokens: 3,
    });
    expect(await response.json()).toEqual({
      id: expect.stringMatching(/^cmpl-/),
      object: 'text_completion',
      created: expect.any(Number),
      model: 'sim-model',
      choices: [{ text: fakeText(3), index: 0, logprobs: null, finish_reason: 'length' }],
      usage: { prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 },
    });
  });

  it('streams text_completion chunks', async () => {
    const simulator = createFastSimulator();
    const response = await postJson(simulator, '/v1/completions', {
      model: 'sim-model',
      prompt: [1, 2, 3],
      max_tokens: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
    const events = parseServerSentEvents(await response.text());
    const chunks = events.slice(0, -1) as ChunkShape[];
    expect(chunks.every((chunk) => chunk.object === 'text_completion')).toBe(true);
    expect(chunks.map((chunk) => chunk.choices[0]?.text ?? null)).toEqual([
      ' sim',
      ' token',
      ' data',
      '',
      null,
    ]);
    expect(chunks[3]?.choices[0]?.finish_reason).toBe('length');
    expect(chunks[4]?.usage).toEqual({ prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 });
    expect(events.at(-1)).toBe('[DONE]');
  });
});

describe('POST /v1/embeddings', () => {
  it('returns one deterministic unit vector per input', async () => {
    const simulator = createFastSimulator({ embeddingDimensions: 8 });
    const request = { model: 'sim-model', input: ['first text', 'second text'] };
    const body = await (await postJson(simulator, '/v1/embeddings', request)).json();
    expect(body).toMatchObject({
      object: 'list',
      model: 'sim-model',
      usage: { prompt_tokens: 6, total_tokens: 6 },
    });
    expect(body.data).toHaveLength(2);
    const [first, second] = body.data as { embedding: number[]; index: number }[];
    expect(first?.index).toBe(0);
    expect(first?.embedding).toHaveLength(8);
    expect(Math.hypot(...(first?.embedding ?? []))).toBeCloseTo(1, 10);
    expect(first?.embedding).not.toEqual(second?.embedding);
    const again = await (await postJson(simulator, '/v1/embeddings', request)).json();
    expect(again.data).toEqual(body.data);
  });

  it('encodes base64 as little-endian float32, as the OpenAI SDK requests by default', async () => {
    const simulator = createFastSimulator({ embeddingDimensions: 4 });
    const floats = await postJson(simulator, '/v1/embeddings', { model: 'sim-model', input: 'hi' });
    const encoded = await postJson(simulator, '/v1/embeddings', {
      model: 'sim-model',
      input: 'hi',
      encoding_format: 'base64',
    });
    const vector: number[] = (await floats.json()).data[0].embedding;
    const base64: string = (await encoded.json()).data[0].embedding;
    const bytes = Uint8Array.from(atob(base64), (character) => character.charCodeAt(0));
    const decoded = Array.from(new Float32Array(bytes.buffer));
    expect(decoded).toEqual(vector.map((component) => Math.fround(component)));
  });

  it('honours the dimensions parameter', async () => {
    const simulator = createFastSimulator();
    const response = await postJson(simulator, '/v1/embeddings', {
      model: 'sim-model',
      input: 'hi',
      dimensions: 3,
    });
    expect((await response.json()).data[0].embedding).toHaveLength(3);
  });
});

describe('request errors', () => {
  const cases = [
    {
      name: 'unknown model',
      path: '/v1/chat/completions',
      body: { model: 'nope', messages },
      status: 404,
      code: 'model_not_found',
      param: 'model',
    },
    {
      name: 'unknown embedding model',
      path: '/v1/embeddings',
      body: { model: 'nope', input: 'x' },
      status: 404,
      code: 'model_not_found',
      param: 'model',
    },
    {
      name: 'malformed JSON',
      path: '/v1/chat/completions',
      body: '{"model": ',
      status: 400,
      code: 'invalid_request',
      param: null,
    },
    {
      name: 'missing messages',
      path: '/v1/chat/completions',
      body: { model: 'sim-model' },
      status: 400,
      code: 'invalid_request',
      param: 'messages',
    },
    {
      name: 'max_tokens above the limit',
      path: '/v1/completions',
      body: { model: 'sim-model', prompt: 'x', max_tokens: 5000 },
      status: 400,
      code: 'invalid_request',
      param: 'max_tokens',
    },
    {
      name: 'max_completion_tokens above the limit',
      path: '/v1/chat/completions',
      body: { model: 'sim-model', messages, max_completion_tokens: 4097 },
      status: 400,
      code: 'invalid_request',
      param: 'max_completion_tokens',
    },
    {
      name: 'negative max_tokens',
      path: '/v1/chat/completions',
      body: { model: 'sim-model', messages, max_tokens: -1 },
      status: 400,
      code: 'invalid_request',
      param: 'max_tokens',
    },
  ];
  for (const testCase of cases) {
    it(`answers ${testCase.name} with ${testCase.status} in OpenAI's error envelope`, async () => {
      const simulator = createFastSimulator();
      const response = await postJson(simulator, testCase.path, testCase.body);
      expect(response.status).toBe(testCase.status);
      expect(await response.json()).toEqual({
        error: {
          message: expect.any(String),
          type: 'invalid_request_error',
          param: testCase.param,
          code: testCase.code,
        },
      });
    });
  }

  it('answers a body over the limit with 413', async () => {
    const simulator = createFastSimulator({ requestBodyBytesMax: 2048 });
    const response = await postJson(simulator, '/v1/completions', {
      model: 'sim-model',
      prompt: 'x'.repeat(4096),
    });
    expect(response.status).toBe(413);
    expect((await response.json()).error.code).toBe('request_too_large');
  });

  it('answers unknown routes with 404 in the error envelope', async () => {
    const response = await createFastSimulator().app.request('/v2/whatever');
    expect(response.status).toBe(404);
    expect((await response.json()).error.code).toBe('not_found');
  });
});

describe('control endpoints', () => {
  it('reports health', async () => {
    const response = await createFastSimulator().app.request('/health');
    expect(response.status).toBe(200);
  });

  it('exposes vLLM metric names per model in Prometheus text', async () => {
    const simulator = createFastSimulator({ models: ['m1', 'm"2'] });
    await postJson(simulator, '/v1/chat/completions', { model: 'm1', messages, max_tokens: 3 });
    const response = await simulator.app.request('/metrics');
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toContain('# TYPE vllm:num_requests_running gauge');
    expect(text).toContain('vllm:num_requests_running{model_name="m1"} 0');
    expect(text).toContain('vllm:num_requests_waiting{model_name="m1"} 0');
    expect(text).toContain('vllm:kv_cache_usage_perc{model_name="m1"} 0');
    expect(text).toContain(`vllm:prompt_tokens_total{model_name="m1"} ${messagesPromptTokens}`);
    expect(text).toContain('vllm:generation_tokens_total{model_name="m1"} 3');
    expect(text).toContain('vllm:request_success_total{model_name="m1"} 1');
    expect(text).toContain('vllm:request_success_total{model_name="m\\"2"} 0');
  });

  it('counts requests and tokens in /sim/stats', async () => {
    const simulator = createFastSimulator({ region: 'eu-west' });
    await postJson(simulator, '/v1/chat/completions', {
      model: 'sim-model',
      messages,
      max_tokens: 3,
    });
    await postJson(simulator, '/v1/chat/completions', { model: 'nope', messages });
    const response = await simulator.app.request('/sim/stats');
    expect(await response.json()).toMatchObject({
      region: 'eu-west',
      requests_received: 2,
      requests_served: 2,
      requests_by_status: { '200': 1, '404': 1 },
      requests_completed: 1,
      tokens_generated: 3,
      prompt_tokens: messagesPromptTokens,
      running: 0,
      waiting: 0,
    });
  });

  it('replaces faults through /sim/faults and rejects invalid ones', async () => {
    const simulator = createFastSimulator({ faults: ['slow:0.5'] });
    expect(await (await simulator.app.request('/sim/faults')).json()).toEqual({
      faults: ['slow:0.5'],
    });
    const replaced = await postJson(simulator, '/sim/faults', { faults: ['fast-503:0.25', 'cut'] });
    expect(await replaced.json()).toEqual({ faults: ['fast-503:0.25', 'cut:1'] });
    const rejected = await postJson(simulator, '/sim/faults', { faults: ['fast-503:2'] });
    expect(rejected.status).toBe(400);
    expect((await rejected.json()).error.message).toContain('SHARE');
    expect(simulator.faults()).toEqual(['fast-503:0.25', 'cut:1']);
    expect((await postJson(simulator, '/sim/faults', '{oops')).status).toBe(400);
  });
});

describe('createSimulatorApp options', () => {
  it('rejects invalid options with a message naming each one', () => {
    expect(() => createSimulatorApp({ models: [], slots: 0, faults: ['boom'] })).toThrow(
      /models:.*slots:.*faults: invalid fault "boom"/,
    );
  });
});

import { describe, expect, it, vi } from 'vitest';
import { fakeText } from './fake-text.ts';
import {
  createFastSimulator,
  parseServerSentEvents,
  postJson,
  readUntilBroken,
} from './fast-simulator.ts';

const chatRequest = {
  model: 'sim-model',
  messages: [{ role: 'user', content: 'hello' }],
  max_tokens: 10,
};
const streamRequest = { ...chatRequest, stream: true, stream_options: { include_usage: true } };

describe('immediate faults', () => {
  it('fast-503 answers 503 at once in the error envelope', async () => {
    const simulator = createFastSimulator({ faults: ['fast-503'] });
    const response = await postJson(simulator, '/v1/chat/completions', chatRequest);
    expect(response.status).toBe(503);
    expect((await response.json()).error).toMatchObject({
      type: 'server_error',
      code: 'service_unavailable',
    });
  });

  it('429 answers with Retry-After', async () => {
    const simulator = createFastSimulator({ faults: ['429'] });
    const response = await postJson(simulator, '/v1/completions', {
      model: 'sim-model',
      prompt: 'x',
    });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('1');
    expect((await response.json()).error.code).toBe('rate_limit_exceeded');
  });

  it('refuse hands the request to the runtime port that drops the connection', async () => {
    const refused = new Response(null, { status: 204 });
    const refusedPaths: string[] = [];
    const simulator = createFastSimulator(
      { faults: ['refuse'] },
      {
        refuseConnection: (c) => {
          refusedPaths.push(c.req.path);
          return refused;
        },
      },
    );
    const response = await postJson(simulator, '/v1/embeddings', {
      model: 'sim-model',
      input: 'x',
    });
    expect(response).toBe(refused);
    expect(refusedPaths).toEqual(['/v1/embeddings']);
    expect(simulator.stats()).toMatchObject({ requests_served: 0, faults_injected: { refuse: 1 } });
  });

  it('refuse without a runtime port answers with a body that fails on first read', async () => {
    const simulator = createFastSimulator({ faults: ['refuse'] });
    const response = await postJson(simulator, '/v1/chat/completions', chatRequest);
    await expect(response.text()).rejects.toThrow();
  });

  it('hang never answers until the client goes away', async () => {
    const simulator = createFastSimulator({ faults: ['hang'] });
    const client = new AbortController();
    let settled = false;
    const pending = postJson(simulator, '/v1/chat/completions', chatRequest, {
      signal: client.signal,
    }).finally(() => {
      settled = true;
    });
    await vi.waitFor(() => expect(simulator.stats().faults_injected.hang).toBe(1));
    expect(settled).toBe(false);
    client.abort();
    expect((await pending).status).toBe(499);
    expect(simulator.stats()).toMatchObject({ requests_aborted: 1, requests_served: 0 });
  });
});

describe('body faults', () => {
  it('cut ends a stream abruptly after half the tokens, without [DONE]', async () => {
    const simulator = createFastSimulator({ faults: ['cut'] });
    const response = await postJson(simulator, '/v1/chat/completions', streamRequest);
    expect(response.status).toBe(200);
    const { text, broken } = await readUntilBroken(response);
    expect(broken).toBe(true);
    expect(text).not.toContain('[DONE]');
    const chunks = parseServerSentEvents(text) as {
      choices: { delta: { content?: string } }[];
    }[];
    const content = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    expect(content).toBe(fakeText(5));
    expect(simulator.stats()).toMatchObject({ tokens_generated: 5, requests_completed: 0 });
  });

  it('cut breaks a JSON body off half-way', async () => {
    const simulator = createFastSimulator({ faults: ['cut'] });
    const response = await postJson(simulator, '/v1/chat/completions', chatRequest);
    expect(response.status).toBe(200);
    const { text, broken } = await readUntilBroken(response);
    expect(broken).toBe(true);
    expect(text.startsWith('{"id":"chatcmpl-')).toBe(true);
    expect(() => JSON.parse(text)).toThrow();
  });

  it('cut also breaks embeddings', async () => {
    const simulator = createFastSimulator({ faults: ['cut'] });
    const response = await postJson(simulator, '/v1/embeddings', {
      model: 'sim-model',
      input: 'x',
    });
    expect((await readUntilBroken(response)).broken).toBe(true);
  });

  it('no-usage leaves usage out of JSON bodies', async () => {
    const simulator = createFastSimulator({ faults: ['no-usage'] });
    const chat = await (await postJson(simulator, '/v1/chat/completions', chatRequest)).json();
    expect(chat.choices[0].message.content).toBe(fakeText(10));
    expect('usage' in chat).toBe(false);
    const embeddings = await (
      await postJson(simulator, '/v1/embeddings', { model: 'sim-model', input: 'x' })
    ).json();
    expect('usage' in embeddings).toBe(false);
  });

  it('no-usage sends no usage chunk even when the stream asked for one', async () => {
    const simulator = createFastSimulator({ faults: ['no-usage'] });
    const response = await postJson(simulator, '/v1/chat/completions', streamRequest);
    const text = await response.text();
    expect(text).not.toContain('"usage"');
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('slow makes a generation ten times slower', async () => {
    // 20 tokens at 2,000 tokens per second: 10 ms normally, 100 ms when slow.
    const options = { decodeTokensPerSecond: 2000, prefillTokensPerSecond: 1_000_000 };
    const request = { ...chatRequest, max_tokens: 20 };
    const slow = createFastSimulator({ ...options, faults: ['slow'] });
    const startedMs = Date.now();
    const response = await postJson(slow, '/v1/chat/completions', request);
    await response.json();
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(90);
    expect(slow.stats().faults_injected).toEqual({ slow: 1 });
  });
});

describe('fault shares', () => {
  it('hit about SHARE of requests, the same ones for the same seed', async () => {
    const statusesFor = async (seed: number) => {
      const simulator = createFastSimulator({ seed, faults: ['fast-503:0.5'] });
      const statuses: number[] = [];
      for (let index = 0; index < 40; index++) {
        const response = await postJson(simulator, '/v1/chat/completions', chatRequest);
        await response.arrayBuffer();
        statuses.push(response.status);
      }
      return statuses;
    };
    const statuses = await statusesFor(3);
    const unavailableCount = statuses.filter((status) => status === 503).length;
    expect(unavailableCount).toBeGreaterThan(10);
    expect(unavailableCount).toBeLessThan(30);
    expect(statuses.filter((status) => status === 200)).toHaveLength(40 - unavailableCount);
    expect(await statusesFor(3)).toEqual(statuses);
  });
});

describe('timing', () => {
  it('takes latency, prefill and decode time before answering', async () => {
    // 20 ms latency + 8 prompt tokens at 400/s (20 ms) + 10 tokens at 1,000/s (10 ms).
    const simulator = createFastSimulator({
      latencyMs: 20,
      prefillTokensPerSecond: 400,
      decodeTokensPerSecond: 1000,
    });
    const startedMs = Date.now();
    const response = await postJson(simulator, '/v1/completions', {
      model: 'sim-model',
      prompt: 'x'.repeat(32),
      max_tokens: 10,
    });
    await response.json();
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(45);
  });
});

describe('slots and queueing', () => {
  it('queues requests beyond the slots and reports them as waiting', async () => {
    const simulator = createFastSimulator({ slots: 1 });
    const holder = await postJson(simulator, '/v1/chat/completions', streamRequest);
    const queued = postJson(simulator, '/v1/chat/completions', chatRequest);
    await vi.waitFor(() => expect(simulator.stats().waiting).toBe(1));
    const metrics = await (await simulator.app.request('/metrics')).text();
    expect(metrics).toContain('vllm:num_requests_running{model_name="sim-model"} 1');
    expect(metrics).toContain('vllm:num_requests_waiting{model_name="sim-model"} 1');
    expect(metrics).toContain('vllm:kv_cache_usage_perc{model_name="sim-model"} 1');
    expect((await holder.text()).endsWith('data: [DONE]\n\n')).toBe(true);
    expect((await queued).status).toBe(200);
    expect(simulator.stats()).toMatchObject({ running: 0, waiting: 0, requests_completed: 2 });
  });

  it('answers 503 with Retry-After when the waiting queue is full', async () => {
    const simulator = createFastSimulator({ slots: 1, waitingQueueLengthMax: 0 });
    const holder = await postJson(simulator, '/v1/chat/completions', streamRequest);
    const turnedAway = await postJson(simulator, '/v1/chat/completions', chatRequest);
    expect(turnedAway.status).toBe(503);
    expect(turnedAway.headers.get('retry-after')).toBe('1');
    expect((await turnedAway.json()).error.code).toBe('queue_full');
    await holder.body?.cancel();
    expect(simulator.stats().running).toBe(0);
  });

  it('frees the slot and stops generating when a streaming client cancels', async () => {
    const simulator = createFastSimulator({ slots: 1 });
    const response = await postJson(simulator, '/v1/chat/completions', {
      ...streamRequest,
      max_tokens: 1000,
    });
    const reader = response.body?.getReader();
    await reader?.read();
    await reader?.read();
    await reader?.cancel();
    const stats = simulator.stats();
    expect(stats).toMatchObject({ running: 0, requests_aborted: 1, requests_completed: 0 });
    expect(stats.tokens_generated).toBeLessThan(10);
  });

  it('drops a queued request whose client goes away', async () => {
    const simulator = createFastSimulator({ slots: 1 });
    const holder = await postJson(simulator, '/v1/chat/completions', streamRequest);
    const client = new AbortController();
    const queued = postJson(simulator, '/v1/chat/completions', chatRequest, {
      signal: client.signal,
    });
    await vi.waitFor(() => expect(simulator.stats().waiting).toBe(1));
    client.abort();
    expect((await queued).status).toBe(499);
    expect(simulator.stats()).toMatchObject({ waiting: 0, running: 1, requests_aborted: 1 });
    await holder.body?.cancel();
  });
});

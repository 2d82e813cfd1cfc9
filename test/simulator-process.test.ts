/**
 * The real `tokenbank sim` process over real sockets: the listening line, the official OpenAI SDK
 * against it, and every fault as a client on the network sees it (refuse and cut can only be seen
 * this way: in-process tests have no connection to drop).
 */

import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  readSimulatorStats,
  type SimulatorProcess,
  setSimulatorFaults,
  startSimulatorProcess,
} from './support/spawn-simulator.ts';

const chatBody = {
  model: 'm1',
  messages: [{ role: 'user' as const, content: 'hello simulator' }],
  max_tokens: 10,
};

let simulator: SimulatorProcess;

function postChat(body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${simulator.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...init,
  });
}

beforeAll(async () => {
  simulator = await startSimulatorProcess([
    '--port',
    '0',
    '--models',
    'm1,m2',
    '--region',
    'eu-test',
    '--decode-tps',
    '5000',
    '--prefill-tps',
    '100000',
    '--seed',
    '7',
  ]);
});

afterAll(async () => {
  await simulator?.stop();
});

describe('tokenbank sim process', () => {
  it('prints its OpenAI base URL on an ephemeral port', () => {
    expect(simulator.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(simulator.url).not.toMatch(/:0\/v1$/);
  });

  it('serves the official OpenAI SDK, with usage matching the streamed tokens', async () => {
    const client = new OpenAI({ apiKey: 'unused', baseURL: simulator.url, maxRetries: 0 });
    const models = await client.models.list();
    expect(models.data.map((model) => model.id)).toEqual(['m1', 'm2']);

    const completion = await client.chat.completions.create({ ...chatBody, max_tokens: 7 });
    expect(completion.choices[0]?.finish_reason).toBe('length');
    expect(completion.usage?.completion_tokens).toBe(7);

    const stream = await client.chat.completions.create({
      ...chatBody,
      max_tokens: 12,
      stream: true,
      stream_options: { include_usage: true },
    });
    let content = '';
    let completionTokens: number | undefined;
    for await (const chunk of stream) {
      content += chunk.choices[0]?.delta.content ?? '';
      completionTokens = chunk.usage?.completion_tokens ?? completionTokens;
    }
    expect(content.split(' ').slice(1)).toHaveLength(12);
    expect(completionTokens).toBe(12);

    const embeddings = await client.embeddings.create({ model: 'm2', input: ['a', 'b'] });
    expect(embeddings.data.map((item) => item.embedding.length)).toEqual([16, 16]);
  });

  it('refuse closes the connection without any response', async () => {
    await setSimulatorFaults(simulator, ['refuse']);
    await expect(postChat(chatBody)).rejects.toThrow(TypeError);
    await setSimulatorFaults(simulator, []);
  });

  it('fast-503 and 429 answer at once, 429 with Retry-After', async () => {
    await setSimulatorFaults(simulator, ['fast-503']);
    const unavailable = await postChat(chatBody);
    expect(unavailable.status).toBe(503);
    await unavailable.arrayBuffer();
    await setSimulatorFaults(simulator, ['429']);
    const limited = await postChat(chatBody);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    await limited.arrayBuffer();
    await setSimulatorFaults(simulator, []);
  });

  it('hang holds the request until the client gives up', async () => {
    await setSimulatorFaults(simulator, ['hang']);
    const abortedBefore = (await readSimulatorStats(simulator)).requests_aborted;
    const client = new AbortController();
    const pending = postChat(chatBody, { signal: client.signal });
    await vi.waitFor(async () => {
      const stats = await readSimulatorStats(simulator);
      expect(stats.faults_injected).toMatchObject({ hang: 1 });
    });
    client.abort();
    await expect(pending).rejects.toThrow();
    await vi.waitFor(async () => {
      expect((await readSimulatorStats(simulator)).requests_aborted).toBe(abortedBefore + 1);
    });
    await setSimulatorFaults(simulator, []);
  });

  it('cut drops a stream half-way, without [DONE]', async () => {
    await setSimulatorFaults(simulator, ['cut']);
    const response = await postChat({ ...chatBody, stream: true });
    expect(response.status).toBe(200);
    const reader = response.body?.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const readAll = async () => {
      for (;;) {
        const chunk = await reader?.read();
        if (chunk === undefined || chunk.done) {
          return;
        }
        text += decoder.decode(chunk.value, { stream: true });
      }
    };
    await expect(readAll()).rejects.toThrow();
    expect(text).not.toContain('[DONE]');
    // The role chunk and 5 of the 10 tokens arrive before the cut.
    expect(text.match(/"content":"/g)).toHaveLength(6);
    await setSimulatorFaults(simulator, []);
  });

  it('cut drops a JSON body half-way', async () => {
    await setSimulatorFaults(simulator, ['cut']);
    const response = await postChat(chatBody);
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
    await setSimulatorFaults(simulator, []);
  });

  it('no-usage leaves usage out', async () => {
    await setSimulatorFaults(simulator, ['no-usage']);
    const body = await (await postChat(chatBody)).json();
    expect(body.choices[0].message.content.split(' ').slice(1)).toHaveLength(10);
    expect(body.usage).toBeUndefined();
    await setSimulatorFaults(simulator, []);
  });

  it('exposes vLLM metrics and stats', async () => {
    const metrics = await (await fetch(`${simulator.origin}/metrics`)).text();
    expect(metrics).toContain('vllm:num_requests_running{model_name="m1"} 0');
    expect(metrics).toContain('vllm:num_requests_waiting{model_name="m2"} 0');
    expect(metrics).toMatch(/vllm:generation_tokens_total\{model_name="m1"\} [1-9]\d*/);
    const stats = await readSimulatorStats(simulator);
    expect(stats).toMatchObject({ region: 'eu-test', running: 0, waiting: 0 });
  });

  it('rejects bad flags with exit code 2 and a message', async () => {
    await expect(startSimulatorProcess(['--models', 'm1', '--fault', 'nope:2'])).rejects.toThrow(
      /code 2[\s\S]*invalid fault "nope:2"/,
    );
    await expect(startSimulatorProcess(['--port', '0'])).rejects.toThrow(/--models is required/);
  });

  it('stops cleanly on SIGTERM', async () => {
    const stoppable = await startSimulatorProcess(['--port', '0', '--models', 'm1']);
    await stoppable.stop();
    expect(stoppable.process.exitCode).toBe(0);
    expect(stoppable.process.signalCode).toBeNull();
  });
});

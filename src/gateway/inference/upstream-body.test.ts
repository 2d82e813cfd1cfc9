import { describe, expect, it } from 'vitest';
import { limitsSchema } from '../../config.ts';
import { inferenceEndpoints, inferenceRequestOf } from './inference-request.ts';
import { upstreamBody } from './upstream-body.ts';

const limits = limitsSchema.parse({});
const [chat, completions, embeddings] = inferenceEndpoints;

function sent(
  endpoint: (typeof inferenceEndpoints)[number] | undefined,
  body: Record<string, unknown>,
  outputTokensPerChoice = 100,
) {
  if (endpoint === undefined) {
    throw new Error('no such endpoint');
  }
  const request = inferenceRequestOf(endpoint, { model: 'm', ...body }, limits);
  const bytes = upstreamBody(request, outputTokensPerChoice);
  return { body: JSON.parse(new TextDecoder().decode(bytes)), request };
}

describe('upstreamBody', () => {
  it('always sets the output cap the request was admitted with, in the field the client used', () => {
    expect(sent(chat, { messages: [] }, 4096).body.max_tokens).toBe(4096);
    expect(sent(chat, { messages: [], max_tokens: 500 }, 120).body.max_tokens).toBe(120);
    const completion = sent(chat, { messages: [], max_completion_tokens: 500 }, 120).body;
    expect(completion.max_completion_tokens).toBe(120);
    expect(completion.max_tokens).toBeUndefined();
  });

  it('forwards known fields and the prompt as given, and drops every other field', () => {
    const { body } = sent(chat, {
      messages: [{ role: 'user', content: 'hi' }],
      temperature: 0.2,
      tools: [{ type: 'function', function: { name: 'f' } }],
      n: 2,
      chat_template: '{{ secret }}',
      unknown_field: [1, 2],
    });
    expect(body).toEqual({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      temperature: 0.2,
      tools: [{ type: 'function', function: { name: 'f' } }],
      n: 2,
      max_tokens: 100,
    });
  });

  it('always asks a stream for usage, and withholds it when the client did not ask', () => {
    const unasked = sent(chat, { messages: [], stream: true, stream_options: { other: 1 } });
    expect(unasked.body.stream_options).toEqual({ include_usage: true });
    expect(unasked.request.usageWithheld).toBe(true);
    const asked = sent(chat, {
      messages: [],
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(asked.request.usageWithheld).toBe(false);
    const json = sent(chat, { messages: [], stream: false });
    expect(json.body.stream).toBeUndefined();
    expect(json.request.usageWithheld).toBe(false);
  });

  it('keeps best_of and suffix for completions, and sends no cap for embeddings', () => {
    const completion = sent(completions, { prompt: 'p', best_of: 3, n: 2, suffix: 's' }).body;
    expect(completion).toMatchObject({ best_of: 3, n: 2, suffix: 's', max_tokens: 100 });
    const embedding = sent(embeddings, { input: ['a'], dimensions: 8, temperature: 1 }).body;
    expect(embedding).toEqual({ model: 'm', input: ['a'], dimensions: 8 });
  });

  it('writes each field once: the text JSON.stringify writes for the same fields in order', () => {
    const cases = [
      { endpoint: chat, body: { messages: [{ role: 'user', content: 'hi' }], temperature: 0.5 } },
      { endpoint: chat, body: { messages: [], stream: true, max_completion_tokens: 9 } },
      { endpoint: completions, body: { prompt: 'p', stream: false, n: 2 } },
      { endpoint: embeddings, body: { input: 'x' } },
    ];
    for (const { endpoint, body } of cases) {
      if (endpoint === undefined) {
        throw new Error('no such endpoint');
      }
      const request = inferenceRequestOf(endpoint, { model: 'm', ...body }, limits);
      const text = new TextDecoder().decode(upstreamBody(request, 42));
      const expected: Record<string, unknown> = { ...request.forwardedFields, model: 'm' };
      if (endpoint.producesOutput) {
        expected[request.outputField] = 42;
      }
      if (request.stream) {
        expected.stream = true;
        expected.stream_options = { include_usage: true };
      }
      expect(text).toBe(JSON.stringify(expected));
    }
    if (embeddings === undefined) {
      throw new Error('no embeddings endpoint');
    }
    const bare = inferenceRequestOf(embeddings, { model: 'm', input: 'x' }, limits);
    const text = new TextDecoder().decode(upstreamBody({ ...bare, forwardedFields: {} }, 1));
    expect(text).toBe('{"model":"m"}');
  });
});

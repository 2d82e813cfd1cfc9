import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { limitsSchema } from '../../config.ts';
import { GatewayError } from '../../errors.ts';
import { inferenceEndpoints, inferenceRequestOf } from './inference-request.ts';

const limits = limitsSchema.parse({});
const [chat, completions, embeddings] = inferenceEndpoints;

function read(
  endpoint: (typeof inferenceEndpoints)[number] | undefined,
  body: Record<string, unknown>,
) {
  if (endpoint === undefined) {
    throw new Error('no such endpoint');
  }
  return inferenceRequestOf(endpoint, { model: 'm', ...body }, limits);
}

function refusal(body: Record<string, unknown>): GatewayError {
  try {
    read(chat, { messages: [{ role: 'user', content: 'hi' }], ...body });
  } catch (error) {
    if (error instanceof GatewayError) {
      return error;
    }
    throw error;
  }
  throw new Error(`${JSON.stringify(body)} was accepted`);
}

describe('inferenceRequestOf', () => {
  it('reads the choices a backend will generate: n, or best_of when larger', () => {
    expect(read(chat, { messages: [], n: 3 }).choiceCount).toBe(3);
    expect(read(completions, { prompt: 'p', n: 2, best_of: 5 }).choiceCount).toBe(5);
    expect(read(embeddings, { input: 'x', n: 9 }).choiceCount).toBe(1);
  });

  it('reads the output asked for, per choice, and which field carries it', () => {
    expect(read(chat, { messages: [], max_tokens: 20 })).toMatchObject({
      outputTokensAsked: 20,
      outputField: 'max_tokens',
    });
    expect(read(chat, { messages: [], max_completion_tokens: 30, max_tokens: 20 })).toMatchObject({
      outputTokensAsked: 30,
      outputField: 'max_completion_tokens',
    });
    expect(read(chat, { messages: [] }).outputTokensAsked).toBeUndefined();
    expect(read(embeddings, { input: 'x' }).outputTokensAsked).toBe(0);
  });

  it('estimates the whole body, so a large tool description is reserved like a large prompt', () => {
    const description = 'describes the tool at length '.repeat(2_000);
    const inMessage = read(chat, { messages: [{ role: 'user', content: description }] });
    const inTool = read(chat, {
      messages: [{ role: 'user', content: 'hi' }],
      tools: [{ type: 'function', function: { name: 'f', description } }],
    });
    expect(inTool.promptTokensEstimate).toBeGreaterThanOrEqual(inMessage.promptTokensEstimate - 20);
    expect(inTool.inputTokensMax).toBeGreaterThan(description.length);
  });

  it('refuses a metered field spelled another way, or an alias of one, naming it', () => {
    for (const field of [
      'Stream',
      'MAX_TOKENS',
      'maxTokens',
      'max-tokens',
      'MODEL',
      'N',
      'Messages',
    ]) {
      const error = refusal({ [field]: 1 });
      expect(error.code, field).toBe('invalid_request');
      expect(error.param, field).toBe(field);
    }
    for (const alias of ['n_predict', 'num_predict', 'max_new_tokens', 'max_length', 'options']) {
      expect(refusal({ [alias]: 5 }).param, alias).toBe(alias);
    }
    expect(refusal({ stream_options: { Include_Usage: true } }).param).toBe(
      'stream_options.Include_Usage',
    );
  });

  it('refuses every case variant of a metered field (seeded property)', () => {
    const metered = [
      'model',
      'messages',
      'stream',
      'max_tokens',
      'n',
      'best_of',
      'prompt',
      'input',
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...metered),
        fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }),
        (name, upper) => {
          const variant = [...name]
            .map((letter, index) => (upper[index] ? letter.toUpperCase() : letter))
            .join('');
          fc.pre(variant !== name);
          expect(refusal({ [variant]: true }).param).toBe(variant);
        },
      ),
      { seed: 42, numRuns: 200 },
    );
  });
});

import { describe, expect, it } from 'vitest';
import type { Tokenizer } from '../platform/tokenizer.ts';
import { deliveredWhole, nothingDelivered } from './delivered-text-buffer.ts';
import { finalUsage, type MeteredRequest } from './final-usage.ts';
import { promptContentOf } from './prompt-content.ts';

/** One token per word: enough to see what was counted. */
const wordTokenizer: Tokenizer = {
  countTokens: async (text) => text.split(/\s+/).filter((word) => word !== '').length,
  countShortText: (text) => text.split(/\s+/).filter((word) => word !== '').length,
};

function request(overrides: Partial<MeteredRequest> = {}): MeteredRequest {
  return {
    model: 'm',
    prompt: promptContentOf({ model: 'm', messages: [{ content: 'one two three' }] }),
    imageTokensEstimate: 100,
    producesOutput: true,
    bound: { inputTokensMax: 50, outputTokensMax: 8 },
    ...overrides,
  };
}

const reported = (inputTokens?: number, outputTokens?: number) => ({
  inputTokens,
  cachedInputTokens: undefined,
  outputTokens,
  reasoningTokens: undefined,
});

describe('finalUsage', () => {
  it('takes what the backend reported when it reported input and output', async () => {
    expect(
      await finalUsage(wordTokenizer, request(), reported(12, 4), nothingDelivered),
    ).toMatchObject({ inputTokens: 12, outputTokens: 4, source: 'provider', claimed: undefined });
  });

  it('bills a reported claim past the bound at the bound, and keeps the claim', async () => {
    const usage = await finalUsage(wordTokenizer, request(), reported(2e9, 2e9), nothingDelivered);
    expect(usage).toMatchObject({
      inputTokens: 50,
      outputTokens: 8,
      source: 'provider',
      claimed: { inputTokens: 2e9, outputTokens: 2e9 },
    });
  });

  it('counts the prompt and the delivered text itself when the backend reports nothing', async () => {
    const usage = await finalUsage(
      wordTokenizer,
      request(),
      undefined,
      deliveredWhole('alpha beta gamma'),
    );
    // The prompt's texts are its content and its keys ("content"): four words.
    expect(usage).toMatchObject({ inputTokens: 4, outputTokens: 3, source: 'gateway_count' });
  });

  it('holds its own count to the bound too', async () => {
    const usage = await finalUsage(
      wordTokenizer,
      request(),
      undefined,
      deliveredWhole('w '.repeat(20)),
    );
    expect(usage.outputTokens).toBe(8);
  });

  it('takes the reported input of an embedding as its whole usage', async () => {
    const usage = await finalUsage(
      wordTokenizer,
      request({ producesOutput: false }),
      reported(7, undefined),
      nothingDelivered,
    );
    expect(usage).toMatchObject({ inputTokens: 7, outputTokens: 0, source: 'provider' });
  });
});

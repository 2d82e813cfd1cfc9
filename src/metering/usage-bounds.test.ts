import { describe, expect, it } from 'vitest';
import { promptContentOf } from './prompt-content.ts';
import { boundUsage, inputTokensBound, utf8Length } from './usage-bounds.ts';

const settings = { templateTokensPerText: 16, templateTokensPerRequest: 256, imageTokensMax: 1000 };

describe('utf8Length', () => {
  it('counts UTF-8 bytes without encoding, astral characters included', () => {
    for (const text of ['', 'hello', 'é', '算力', '😀', 'a😀b算', '\u0800', '\u07ff']) {
      expect(utf8Length(text), text).toBe(new TextEncoder().encode(text).length);
    }
  });
});

describe('inputTokensBound', () => {
  it('allows a token per byte of every text, the template per text and request, and images', () => {
    const prompt = promptContentOf({
      model: 'm',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: '算力' },
            { type: 'image_url', image_url: { url: 'data:x' } },
          ],
        },
      ],
      tools: [{ type: 'function', function: { name: 'lookup' } }],
    });
    const bytes = prompt.texts.reduce((sum, text) => sum + utf8Length(text), 0);
    expect(prompt.imageCount).toBe(1);
    expect(inputTokensBound(prompt, settings)).toBe(256 + bytes + 16 * prompt.texts.length + 1000);
  });

  it('counts token-id prompts by length', () => {
    const prompt = promptContentOf({
      model: 'm',
      prompt: [
        [1, 2, 3],
        [4, 5],
      ],
    });
    expect(prompt.tokenIdCount).toBe(5);
    expect(inputTokensBound(prompt, settings)).toBe(256 + 5);
  });
});

describe('boundUsage', () => {
  const bound = { inputTokensMax: 100, outputTokensMax: 10 };

  it('keeps counts within the bound as they are, with no claim', () => {
    expect(
      boundUsage({ inputTokens: 100, cachedInputTokens: 20, outputTokens: 10 }, bound),
    ).toEqual({
      inputTokens: 100,
      cachedInputTokens: 20,
      outputTokens: 10,
      claimed: undefined,
    });
  });

  it('bills a claim past either bound at the bound and keeps the claim', () => {
    expect(
      boundUsage({ inputTokens: 2_000_000_000, cachedInputTokens: 0, outputTokens: 3 }, bound),
    ).toEqual({
      inputTokens: 100,
      cachedInputTokens: 0,
      outputTokens: 3,
      claimed: { inputTokens: 2_000_000_000, outputTokens: 3 },
    });
    expect(
      boundUsage({ inputTokens: 5, cachedInputTokens: 0, outputTokens: 11 }, bound).claimed,
    ).toEqual({ inputTokens: 5, outputTokens: 11 });
  });

  it('never bills more cached input than input', () => {
    const bounded = boundUsage(
      { inputTokens: 500, cachedInputTokens: 400, outputTokens: 1 },
      bound,
    );
    expect(bounded.cachedInputTokens).toBe(100);
  });
});

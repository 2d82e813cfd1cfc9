import { describe, expect, it } from 'vitest';
import {
  countSimulatedPromptTokens,
  fakeText,
  fakeTextVocabulary,
  fakeTokenAt,
} from './fake-text.ts';

describe('fakeTextVocabulary', () => {
  it('holds distinct lowercase words, each with exactly one leading space', () => {
    for (const word of fakeTextVocabulary) {
      expect(word).toMatch(/^ [a-z]+$/);
    }
    expect(new Set(fakeTextVocabulary).size).toBe(fakeTextVocabulary.length);
  });
});

describe('fakeText', () => {
  it('is exactly one vocabulary word per token', () => {
    for (const tokenCount of [0, 1, 5, 64, 1000]) {
      const words = fakeText(tokenCount).split(' ').slice(1);
      expect(words).toHaveLength(tokenCount);
    }
  });

  it('joins the same words a stream sends one by one', () => {
    const streamed = Array.from({ length: 40 }, (_, position) => fakeTokenAt(position)).join('');
    expect(fakeText(40)).toBe(streamed);
  });

  it('starts with a recognisably fake word', () => {
    expect(fakeText(3)).toBe(' sim token data');
  });
});

describe('countSimulatedPromptTokens', () => {
  const cases = [
    { name: 'empty text still costs one token', text: '', tokens: 1 },
    { name: 'four bytes are one token', text: 'abcd', tokens: 1 },
    { name: 'a fifth byte starts a second token', text: 'abcde', tokens: 2 },
    { name: 'multi-byte characters count their UTF-8 bytes', text: '你好', tokens: 2 },
    { name: 'a long text', text: 'x'.repeat(4000), tokens: 1000 },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => {
      expect(countSimulatedPromptTokens(testCase.text)).toBe(testCase.tokens);
    });
  }
});

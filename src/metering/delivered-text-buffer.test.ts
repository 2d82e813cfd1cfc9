import { describe, expect, it } from 'vitest';
import { createDeliveredTextBuffer } from './delivered-text-buffer.ts';

/** One "token" per word, its leading space included: enough to see what was counted where. */
const countWords = (text: string) => text.split(' ').filter((word) => word !== '').length;
const countWordsLater = async (text: string) => countWords(text);

describe('createDeliveredTextBuffer', () => {
  it('holds short answers whole and counts nothing', async () => {
    let counts = 0;
    const buffer = createDeliveredTextBuffer({
      charsMax: 1024,
      countTokens: async (text) => {
        counts += 1;
        return countWords(text);
      },
    });
    for (const word of ['Hello', ' there', '', ' world']) {
      buffer.append(word);
    }
    const { countedTokens, text } = buffer.current();
    expect({ countedTokens: await countedTokens, text }).toEqual({
      countedTokens: 0,
      text: 'Hello there world',
    });
    expect(counts).toBe(0);
  });

  it('counts and lets go of older text past the bound, losing no word', async () => {
    const buffer = createDeliveredTextBuffer({ charsMax: 1024, countTokens: countWordsLater });
    const words = Array.from({ length: 5_000 }, (_, index) => ` w${index}`);
    let heldMax = 0;
    for (const word of words) {
      buffer.append(word);
      heldMax = Math.max(heldMax, buffer.current().text.length);
    }
    const { countedTokens, text } = buffer.current();
    const counted = await countedTokens;
    expect(heldMax).toBeLessThanOrEqual(1024 + 8);
    expect(counted).toBeGreaterThan(0);
    expect(counted + countWords(text)).toBe(words.length);
    expect(text.endsWith(' w4999')).toBe(true);
  });

  it('cuts a run without spaces anywhere but inside a surrogate pair', async () => {
    const seen: string[] = [];
    const buffer = createDeliveredTextBuffer({
      charsMax: 1024,
      countTokens: async (text) => {
        seen.push(text);
        return text.length;
      },
    });
    for (let index = 0; index < 1_000; index += 1) {
      buffer.append('算😀');
    }
    const { countedTokens, text } = buffer.current();
    expect((await countedTokens) + text.length).toBe(3_000);
    for (const part of [...seen, text]) {
      const last = part.charCodeAt(part.length - 1);
      expect(last >= 0xd800 && last <= 0xdbff).toBe(false);
    }
  });
});

describe('countHeld', () => {
  it('counts each delivered word once across checkpoints, at once while texts are short', async () => {
    const counted: string[] = [];
    const buffer = createDeliveredTextBuffer({
      charsMax: 1024,
      countTokens: countWordsLater,
      countShortText: (text) => {
        counted.push(text);
        return countWords(text);
      },
    });
    const words = Array.from({ length: 300 }, (_, index) => ` w${index}`);
    let total: number | Promise<number> = 0;
    for (const [index, word] of words.entries()) {
      buffer.append(word);
      if (index % 64 === 63) {
        total = buffer.countHeld();
        // Everything delivered by the checkpoint is counted, and at once.
        expect(total).toBe(index + 1);
      }
    }
    const { countedTokens, text } = buffer.current();
    expect((await countedTokens) + countWords(text)).toBe(words.length);
    expect(counted.join('')).toBe(words.join('').slice(0, counted.join('').length));
  });

  it('falls back to the asynchronous count for a long text, then counts at once again', async () => {
    const buffer = createDeliveredTextBuffer({
      charsMax: 100_000,
      countTokens: countWordsLater,
      countShortText: (text) => (text.length > 50 ? undefined : countWords(text)),
    });
    buffer.append(' long'.repeat(20));
    const pending = buffer.countHeld();
    expect(pending).toBeInstanceOf(Promise);
    expect(await pending).toBe(20);
    buffer.append(' a b');
    expect(buffer.countHeld()).toBe(22);
  });
});

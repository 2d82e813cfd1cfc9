import { get_encoding } from 'tiktoken';
import { describe, expect, it } from 'vitest';
import { createEncodingCounter, tokenizerPieces } from './tiktoken-tokenizer.ts';

const count = createEncodingCounter();
const whole = get_encoding('o200k_base');

describe('createEncodingCounter', () => {
  it('counts ordinary text exactly as tiktoken does on the whole of it', () => {
    for (const text of [
      '',
      'hello world',
      'The computing power bank sells idle GPU time. '.repeat(200),
      '算力银行 把闲置的 GPU 时间 卖给 中小企业。'.repeat(100),
      '<|endoftext|> is ordinary text here',
    ]) {
      expect(count(text, 'o200k_base')).toBe(whole.encode_ordinary(text).length);
    }
  });

  it('builds each configured encoding from its own rank file', () => {
    const legacy = get_encoding('cl100k_base');
    const text = '算力银行 sells idle GPU time, counted per token.';
    expect(count(text, 'cl100k_base')).toBe(legacy.encode_ordinary(text).length);
    expect(count(text, 'o200k_base')).toBe(whole.encode_ordinary(text).length);
  });

  // Regression: a prompt without spaces made tiktoken's merge loop quadratic (11 s for 36,000
  // Chinese characters, 40 s for 200,000 letters). Pieces of at most 512 characters (checked
  // below) keep it linear; the time itself is the benchmarks' to measure, not a test's.
  it('counts long runs without spaces piece by piece, within a token per piece', () => {
    const letters = 'a'.repeat(200_000);
    const chinese = '算力银行的计算能力'.repeat(20_000);
    const letterCount = count(letters, 'o200k_base');
    const chineseCount = count(chinese, 'o200k_base');
    expect(letterCount).toBeGreaterThan(0);
    const sample = chinese.slice(0, 5_000);
    const pieceCount = Math.ceil(sample.length / 512);
    expect(
      Math.abs(count(sample, 'o200k_base') - whole.encode_ordinary(sample).length),
    ).toBeLessThanOrEqual(pieceCount);
    expect(chineseCount).toBeGreaterThan(chinese.length / 3);
  });

  it('cuts before a space when there is one, and never inside a surrogate pair', () => {
    const emoji = '😀'.repeat(600);
    for (const piece of tokenizerPieces(emoji)) {
      expect(piece.length).toBeLessThanOrEqual(512);
      const last = piece.charCodeAt(piece.length - 1);
      expect(last >= 0xd800 && last <= 0xdbff).toBe(false);
    }
    expect([...tokenizerPieces(emoji)].join('')).toBe(emoji);
    const words = 'word '.repeat(300);
    const pieces = [...tokenizerPieces(words)];
    expect(pieces.join('')).toBe(words);
    for (const piece of pieces.slice(1)) {
      expect(piece.startsWith(' ')).toBe(true);
    }
  });
});

import { get_encoding } from 'tiktoken';
import { describe, expect, it } from 'vitest';
import { estimateTextTokens } from '../../metering/estimate-prompt-tokens.ts';
import { createJsonLogger } from '../../platform/logger.ts';
import { createWorkerTokenizer } from './worker-tokenizer.ts';

const whole = get_encoding('o200k_base');

function recordingLogger() {
  const lines: string[] = [];
  return { logger: createJsonLogger('debug', (line) => lines.push(line)), lines };
}

describe('createWorkerTokenizer', () => {
  it('counts on its worker thread exactly as tiktoken does', async () => {
    const tokenizer = createWorkerTokenizer({
      encodingDefault: 'o200k_base',
      modelEncodings: { legacy: 'cl100k_base' },
      queueLengthMax: 100,
      inlineCharsMax: 0,
      logger: recordingLogger().logger,
    });
    const text = '算力银行 sells idle GPU time, counted per token. '.repeat(50);
    const counts = await Promise.all([
      tokenizer.countTokens(text, 'any-model'),
      tokenizer.countTokens('', 'any-model'),
      tokenizer.countTokens(text, 'legacy'),
    ]);
    expect(counts[0]).toBe(whole.encode_ordinary(text).length);
    expect(counts[1]).toBe(0);
    expect(counts[2]).toBe(get_encoding('cl100k_base').encode_ordinary(text).length);
  });

  it('answers with the byte estimate past its queue bound, and says so', async () => {
    const { logger, lines } = recordingLogger();
    const tokenizer = createWorkerTokenizer({
      encodingDefault: 'o200k_base',
      modelEncodings: {},
      queueLengthMax: 1,
      inlineCharsMax: 0,
      logger,
    });
    const text = 'The computing power bank sells idle GPU time. '.repeat(2_000);
    const counts = await Promise.all([
      tokenizer.countTokens(text, 'm'),
      tokenizer.countTokens(text, 'm'),
    ]);
    expect(counts[0]).toBe(whole.encode_ordinary(text).length);
    expect(counts[1]).toBe(estimateTextTokens(text));
    expect(lines.some((line) => line.includes('"event":"tokenizer_queue_full"'))).toBe(true);
  });
});

describe('countShortText', () => {
  it('counts a short text at once, and leaves a long one to the worker', async () => {
    const tokenizer = createWorkerTokenizer({
      encodingDefault: 'o200k_base',
      modelEncodings: {},
      queueLengthMax: 10,
      inlineCharsMax: 32,
      logger: recordingLogger().logger,
    });
    expect(tokenizer.countShortText('hello world', 'm')).toBe(2);
    const long = 'hello world '.repeat(10);
    expect(tokenizer.countShortText(long, 'm')).toBeUndefined();
    expect(await tokenizer.countTokens(long, 'm')).toBe(whole.encode_ordinary(long).length);
  });
});

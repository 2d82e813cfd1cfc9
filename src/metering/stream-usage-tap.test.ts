/**
 * The stream usage tap over recorded streams of real servers (see __fixtures__/README.md), fed
 * as the relay feeds it: bytes split into events, each event's data inspected. Every fixture is
 * replayed in several chunkings, since the network splits a stream anywhere (inside a line, a
 * JSON string or a multi-byte character), and each must read the same: the usage reported, the
 * text delivered, whether [DONE] came, and the bytes relayed.
 */
import { describe, expect, it } from 'vitest';
import { createSeededRandom, randomIndex } from '../platform/random.ts';
import llamaCpp from './__fixtures__/llama-cpp.chunks.txt?raw';
import llamaCppUsageOnFinishChunk from './__fixtures__/llama-cpp-usage-on-finish-chunk.chunks.txt?raw';
import ollama from './__fixtures__/ollama.chunks.txt?raw';
import ollamaNoUsage from './__fixtures__/ollama-no-usage.chunks.txt?raw';
import sglang from './__fixtures__/sglang.chunks.txt?raw';
import tgi from './__fixtures__/tgi.chunks.txt?raw';
import tgiUsageOnLastToken from './__fixtures__/tgi-usage-on-last-token.chunks.txt?raw';
import vllm from './__fixtures__/vllm.chunks.txt?raw';
import vllmContinuousUsage from './__fixtures__/vllm-continuous-usage.chunks.txt?raw';
import vllmCutShort from './__fixtures__/vllm-cut-short.chunks.txt?raw';
import vllmUsageNull from './__fixtures__/vllm-usage-null.chunks.txt?raw';
import { createEventSplitter, eventData } from './event-splitter.ts';
import { createStreamUsageTap } from './stream-usage-tap.ts';
import type { ReportedUsage } from './usage.ts';

type Expected = {
  text: string;
  usage: ReportedUsage | undefined;
  sawDone: boolean;
  contentEventCount: number;
  /** Events with usage and no choices: withheld when the gateway asked for the usage itself. */
  usageOnlyEventCount: number;
};

function usage(
  inputTokens: number,
  outputTokens: number,
  cachedInputTokens?: number,
): ReportedUsage {
  return { inputTokens, cachedInputTokens, outputTokens, reasoningTokens: undefined };
}

const parisText = 'Paris is the capital of France.';
const ollamaText = 'A naïve café in Zürich 🙂';
const tgiText = 'Deep learning is a subset of machine';

const fixtures: Record<string, { stream: string; expected: Expected }> = {
  vllm: {
    stream: vllm,
    expected: {
      text: parisText,
      usage: usage(24, 8),
      sawDone: true,
      contentEventCount: 7,
      usageOnlyEventCount: 1,
    },
  },
  'vllm-usage-null': {
    stream: vllmUsageNull,
    expected: {
      text: parisText,
      usage: usage(24, 8),
      sawDone: true,
      contentEventCount: 7,
      usageOnlyEventCount: 1,
    },
  },
  'vllm-continuous-usage': {
    stream: vllmContinuousUsage,
    expected: {
      text: parisText,
      usage: usage(24, 8, 16),
      sawDone: true,
      contentEventCount: 7,
      usageOnlyEventCount: 1,
    },
  },
  'vllm-cut-short': {
    stream: vllmCutShort,
    expected: {
      text: 'Paris is the',
      usage: undefined,
      sawDone: false,
      contentEventCount: 3,
      usageOnlyEventCount: 0,
    },
  },
  sglang: {
    stream: sglang,
    expected: {
      // Reasoning is output too: it is delivered (and billed) like the answer.
      text: 'The user wants a greeting.Hello! How can I help?',
      usage: usage(31, 13, 24),
      sawDone: true,
      contentEventCount: 11,
      usageOnlyEventCount: 1,
    },
  },
  'llama-cpp': {
    stream: llamaCpp,
    expected: {
      text: 'Sure, here it is.',
      usage: usage(20, 6, 8),
      sawDone: true,
      contentEventCount: 6,
      usageOnlyEventCount: 1,
    },
  },
  'llama-cpp-usage-on-finish-chunk': {
    stream: llamaCppUsageOnFinishChunk,
    expected: {
      text: 'Sure, here it is.',
      usage: usage(20, 6),
      sawDone: true,
      contentEventCount: 6,
      usageOnlyEventCount: 0,
    },
  },
  ollama: {
    stream: ollama,
    expected: {
      text: ollamaText,
      usage: usage(30, 9),
      sawDone: true,
      contentEventCount: 6,
      usageOnlyEventCount: 1,
    },
  },
  'ollama-no-usage': {
    stream: ollamaNoUsage,
    expected: {
      text: ollamaText,
      usage: undefined,
      sawDone: true,
      contentEventCount: 6,
      usageOnlyEventCount: 0,
    },
  },
  tgi: {
    stream: tgi,
    expected: {
      text: tgiText,
      usage: usage(15, 7),
      sawDone: true,
      contentEventCount: 7,
      usageOnlyEventCount: 1,
    },
  },
  'tgi-usage-on-last-token': {
    stream: tgiUsageOnLastToken,
    expected: {
      text: tgiText,
      usage: usage(15, 7),
      sawDone: true,
      contentEventCount: 7,
      usageOnlyEventCount: 0,
    },
  },
};

/** The stream cut at the given offsets. */
function cutAt(bytes: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const offset of [...offsets, bytes.length]) {
    if (offset > start) {
      chunks.push(bytes.subarray(start, offset));
      start = offset;
    }
  }
  return chunks;
}

function everyBytes(bytes: Uint8Array, stepBytes: number): Uint8Array[] {
  const offsets: number[] = [];
  for (let offset = stepBytes; offset < bytes.length; offset += stepBytes) {
    offsets.push(offset);
  }
  return cutAt(bytes, offsets);
}

/** Cut after each line feed: the way a server flushing line by line is read. */
function perLine(bytes: Uint8Array): Uint8Array[] {
  const offsets: number[] = [];
  bytes.forEach((byte, index) => {
    if (byte === 10) {
      offsets.push(index + 1);
    }
  });
  return cutAt(bytes, offsets);
}

/** About one cut per 40 bytes, at seeded random places. */
function seededSplits(bytes: Uint8Array, seed: number): Uint8Array[] {
  const random = createSeededRandom(seed);
  const count = Math.ceil(bytes.length / 40);
  const offsets = Array.from({ length: count }, () => 1 + randomIndex(random, bytes.length - 1));
  return cutAt(
    bytes,
    [...new Set(offsets)].sort((left, right) => left - right),
  );
}

function chunkings(bytes: Uint8Array): { name: string; chunks: Uint8Array[] }[] {
  return [
    { name: 'whole', chunks: [bytes] },
    { name: 'per line', chunks: perLine(bytes) },
    { name: 'every byte', chunks: everyBytes(bytes, 1) },
    { name: 'every 3 bytes', chunks: everyBytes(bytes, 3) },
    { name: 'every 7 bytes', chunks: everyBytes(bytes, 7) },
    ...[1, 2, 3, 4, 5].map((seed) => ({
      name: `seeded splits ${seed}`,
      chunks: seededSplits(bytes, seed),
    })),
  ];
}

/** What the relay does with a stream: split it into events, inspect each, pass on or withhold. */
function replay(chunks: readonly Uint8Array[], withholdUsageEvents: boolean) {
  const splitter = createEventSplitter(64 * 1024);
  const tap = createStreamUsageTap({
    withholdUsageEvents,
    deliveredTextCharsMax: 1_000_000,
    countTokens: async (text) => text.length,
  });
  const relayed: Uint8Array[] = [];
  let withheldCount = 0;
  for (const chunk of chunks) {
    for (const event of splitter.push(chunk)) {
      const data = eventData(event);
      if (data === undefined || tap.inspect(data)) {
        relayed.push(event);
      } else {
        withheldCount += 1;
      }
    }
  }
  relayed.push(splitter.rest());
  return { tap, relayedText: new TextDecoder().decode(joined(relayed)), withheldCount };
}

function joined(parts: readonly Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

describe('the stream usage tap over recorded server streams', () => {
  for (const [name, { stream, expected }] of Object.entries(fixtures)) {
    const bytes = new TextEncoder().encode(stream);

    it(`${name}: reads the same usage, text and end however the stream is split`, () => {
      for (const chunking of chunkings(bytes)) {
        const { tap, relayedText, withheldCount } = replay(chunking.chunks, false);
        const context = `${name}, ${chunking.name}`;
        expect(tap.reported, context).toEqual(expected.usage);
        expect(tap.delivered().text, context).toBe(expected.text);
        expect(tap.sawDone, context).toBe(expected.sawDone);
        expect(tap.contentEventCount, context).toBe(expected.contentEventCount);
        // Relaying changes nothing: every byte goes on, an unfinished event included.
        expect(relayedText, context).toBe(stream);
        expect(withheldCount, context).toBe(0);
      }
    });

    it(`${name}: withholds only usage-only events when the gateway asked for the usage`, () => {
      for (const chunking of chunkings(bytes)) {
        const { tap, relayedText, withheldCount } = replay(chunking.chunks, true);
        const context = `${name}, ${chunking.name}`;
        expect(withheldCount, context).toBe(expected.usageOnlyEventCount);
        expect(tap.reported, context).toEqual(expected.usage);
        expect(tap.delivered().text, context).toBe(expected.text);
        // What the client gets still ends as the server's stream did.
        expect(relayedText.endsWith('data: [DONE]\n\n'), context).toBe(expected.sawDone);
      }
    });
  }
});

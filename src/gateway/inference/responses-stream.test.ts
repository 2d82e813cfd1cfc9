/**
 * The Responses stream over chat streams as the relay sends them: recorded streams of real
 * servers run through the real relay and then the translation, split into chunks anywhere (inside
 * a line, a JSON string or a multi-byte character), must give the same typed events; a cut
 * stream, the relay's error event and an answer past its bound end the response as failed.
 */
import { describe, expect, it } from 'vitest';
import { type ChunkSource, webStreamChunks } from '../../backends/upstream/chunk-source.ts';
import { limitsSchema } from '../../config.ts';
import { GatewayError } from '../../errors.ts';
import ollama from '../../metering/__fixtures__/ollama.chunks.txt?raw';
import vllm from '../../metering/__fixtures__/vllm.chunks.txt?raw';
import vllmCutShort from '../../metering/__fixtures__/vllm-cut-short.chunks.txt?raw';
import { createStreamUsageTap } from '../../metering/stream-usage-tap.ts';
import { createSeededRandom, randomIndex } from '../../platform/random.ts';
import { relayEventStream, type StreamOutcome } from './relay-event-stream.ts';
import { type ResponseEvent, ResponseEventWriter } from './response-event-writer.ts';
import type { ResponseIdentity } from './responses-answer.ts';
import { responsesRequestOf } from './responses-request.ts';
import { responsesEventStream } from './responses-stream.ts';

const encoder = new TextEncoder();

function identity(): ResponseIdentity {
  const { settings } = responsesRequestOf({ model: 'm', input: 'hi' }, limitsSchema.parse({}));
  return { id: 'resp_1', messageId: 'msg_1', createdAtS: 1_700_000_000, settings };
}

/** Chat stream bytes as `parts`, then the end (or a break); counts cancels and reads. */
function chatSource(parts: readonly Uint8Array[], breakAtEnd = false) {
  let index = 0;
  let cancels = 0;
  const source: ChunkSource = {
    next: async () => {
      const part = parts[index];
      index += 1;
      if (part === undefined && breakAtEnd) {
        throw new Error('socket hang up');
      }
      return part;
    },
    cancel: () => {
      cancels += 1;
    },
  };
  return { source, cancels: () => cancels, readAll: () => index > parts.length };
}

/** The same bytes cut at `cuts` (sorted offsets). */
function cutAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (cut > start) {
      parts.push(bytes.subarray(start, cut));
      start = cut;
    }
  }
  return parts;
}

/** Whole, byte by byte, every 7 bytes, and seeded random cuts. */
function chunkings(text: string): Uint8Array[][] {
  const bytes = encoder.encode(text);
  const random = createSeededRandom(7);
  const randomCuts = Array.from({ length: 12 }, () =>
    Array.from({ length: 1 + randomIndex(random, 40) }, () =>
      randomIndex(random, bytes.length),
    ).sort((left, right) => left - right),
  );
  return [
    [bytes],
    cutAt(bytes, Array.from(bytes.keys())),
    cutAt(
      bytes,
      Array.from(bytes.keys()).filter((offset) => offset % 7 === 0),
    ),
    ...randomCuts.map((cuts) => cutAt(bytes, cuts)),
  ];
}

/** Parses SSE text into its events, checking that each `event:` names its data's type. */
function parseEvents(text: string): ResponseEvent[] {
  expect(text.endsWith('\n\n')).toBe(true);
  expect(text).not.toContain('[DONE]');
  return text
    .slice(0, -2)
    .split('\n\n')
    .map((block) => {
      const [eventLine, dataLine, ...rest] = block.split('\n');
      expect(rest).toEqual([]);
      const event = JSON.parse(dataLine?.replace(/^data: /, '') ?? '') as ResponseEvent;
      expect(eventLine).toBe(`event: ${event.type}`);
      return event;
    });
}

function translate(source: ChunkSource, textCharsMax = 1_000_000): ReadableStream<Uint8Array> {
  return responsesEventStream({
    chat: source,
    writer: new ResponseEventWriter(identity(), textCharsMax),
    eventBytesMax: 64 * 1024,
  });
}

/** The chat bytes through the real relay, then translated; the relay's outcome once it ends. */
function throughRelay(parts: readonly Uint8Array[]) {
  const outcomes: StreamOutcome[] = [];
  const upstream = chatSource(parts);
  const relayed = relayEventStream({
    upstream: upstream.source,
    tap: createStreamUsageTap({
      withholdUsageEvents: false,
      deliveredTextCharsMax: 1024,
      countTokens: async (text) => text.length,
    }),
    eventBytesMax: 64 * 1024,
    streamError: () => new GatewayError('upstream_error', 'The backend stream was cut.'),
    abortUpstream: () => {},
    clientGone: () => false,
    onEvent: () => {},
    onEnd: (outcome) => outcomes.push(outcome),
  });
  return { body: translate(webStreamChunks(relayed.body)), outcomes, expire: relayed.expire };
}

async function eventsOf(body: ReadableStream<Uint8Array>): Promise<ResponseEvent[]> {
  return parseEvents(await new Response(body).text());
}

const completeSequence = [
  'response.created',
  'response.in_progress',
  'response.output_item.added',
  'response.content_part.added',
];

const closingSequence = [
  'response.output_text.done',
  'response.content_part.done',
  'response.output_item.done',
];

function deltasOf(events: readonly ResponseEvent[]): string {
  return events
    .filter((event) => event.type === 'response.output_text.delta')
    .map((event) => event.delta)
    .join('');
}

describe('responsesEventStream', () => {
  it.each([
    { name: 'vLLM', stream: vllm, text: 'Paris is the capital of France.', usage: [24, 8] },
    { name: 'Ollama', stream: ollama, text: 'A naïve café in Zürich 🙂', usage: [30, 9] },
  ])(
    'translates a $name stream to the same typed events however it is cut',
    async ({ stream, text, usage }) => {
      const [whole, ...others] = chunkings(stream);
      const relayed = throughRelay(whole ?? []);
      const events = await eventsOf(relayed.body);
      const deltaCount = events.filter(
        (event) => event.type === 'response.output_text.delta',
      ).length;
      expect(events.map((event) => event.type)).toEqual([
        ...completeSequence,
        ...Array.from({ length: deltaCount }, () => 'response.output_text.delta'),
        ...closingSequence,
        'response.completed',
      ]);
      expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
      expect(deltasOf(events)).toBe(text);
      const completed = events.at(-1)?.response;
      expect(completed).toMatchObject({
        id: 'resp_1',
        status: 'completed',
        output: [{ id: 'msg_1', status: 'completed', content: [{ type: 'output_text', text }] }],
        usage: { input_tokens: usage[0], output_tokens: usage[1] },
      });
      await expect.poll(() => relayed.outcomes).toEqual(['complete']);
      for (const parts of others) {
        expect(await eventsOf(throughRelay(parts).body)).toEqual(events);
      }
    },
  );

  it('fails the response when the backend stream is cut, with what was delivered', async () => {
    for (const parts of chunkings(vllmCutShort)) {
      const relayed = throughRelay(parts);
      const events = await eventsOf(relayed.body);
      expect(events.at(-1)).toMatchObject({
        type: 'response.failed',
        response: {
          status: 'failed',
          error: { code: 'server_error', message: 'The backend stream was cut.' },
          output: [{ status: 'incomplete', content: [{ text: 'Paris is the' }] }],
        },
      });
      expect(relayed.outcomes).toEqual(['upstream_error']);
    }
  });

  it('fails the response when a chat stream ends without [DONE] or an error', async () => {
    const chat = chatSource(
      [encoder.encode('data: {"choices":[{"delta":{"content":"a"}}]}\n\n')],
      true,
    );
    const events = await eventsOf(translate(chat.source));
    expect(events.map((event) => event.type)).toEqual([
      ...completeSequence,
      'response.output_text.delta',
      'response.failed',
    ]);
  });

  it('fails the response with the error of a request that ran out of time', async () => {
    const relayed = throughRelay([
      encoder.encode('data: {"choices":[{"delta":{"content":"a"}}]}\n\n'),
    ]);
    const reader = relayed.body.getReader();
    relayed.expire(new GatewayError('request_timeout', 'The request ran too long.'));
    let text = '';
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      text += new TextDecoder().decode(next.value);
    }
    const events = parseEvents(text);
    expect(events.at(-1)?.response).toMatchObject({
      status: 'failed',
      error: { message: 'The request ran too long.' },
    });
    expect(relayed.outcomes).toEqual(['upstream_error']);
  });

  it('ends an answer cut by its length as incomplete, and one with no text as completed', async () => {
    const cut = chatSource([
      encoder.encode(
        'data: {"choices":[{"delta":{"content":"a b"}}]}\n\ndata: {"choices":[{"delta":{},"finish_reason":"length"}]}\n\ndata: [DONE]\n\n',
      ),
    ]);
    const cutEvents = await eventsOf(translate(cut.source));
    expect(cutEvents.at(-2)).toMatchObject({
      type: 'response.output_item.done',
      item: { status: 'incomplete' },
    });
    expect(cutEvents.at(-1)).toMatchObject({
      type: 'response.incomplete',
      response: { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } },
    });
    const empty = chatSource([encoder.encode('data: [DONE]\n\n')]);
    const emptyEvents = await eventsOf(translate(empty.source));
    expect(emptyEvents.map((event) => event.type)).toEqual([
      ...completeSequence,
      ...closingSequence,
      'response.completed',
    ]);
    expect(emptyEvents.at(-1)?.response).not.toHaveProperty('usage');
  });

  it('reads the chat stream to its end after [DONE], and stops one that outgrows its bound', async () => {
    const done = chatSource([encoder.encode('data: [DONE]\n\n'), encoder.encode(': trailing\n\n')]);
    await eventsOf(translate(done.source));
    await expect.poll(() => done.readAll()).toBe(true);
    expect(done.cancels()).toBe(0);
    const long = chatSource([
      encoder.encode('data: {"choices":[{"delta":{"content":"abcd"}}]}\n\n'),
      encoder.encode('data: {"choices":[{"delta":{"content":"efgh"}}]}\n\n'),
      encoder.encode('data: [DONE]\n\n'),
    ]);
    const events = await eventsOf(translate(long.source, 6));
    expect(events.at(-1)?.response).toMatchObject({
      status: 'failed',
      error: { message: 'The answer is longer than this gateway relays (6 characters).' },
      output: [{ content: [{ text: 'abcd' }] }],
    });
    expect(long.cancels()).toBe(1);
  });

  it('cancels the chat stream when the client goes away', async () => {
    const chat = chatSource([encoder.encode('data: {"choices":[{"delta":{"content":"a"}}]}\n\n')]);
    const reader = translate(chat.source).getReader();
    await reader.read();
    await reader.cancel();
    expect(chat.cancels()).toBe(1);
  });
});

import { describe, expect, it } from 'vitest';
import { webStreamChunks } from '../../backends/upstream/chunk-source.ts';
import { GatewayError } from '../../errors.ts';
import { createStreamUsageTap } from '../../metering/stream-usage-tap.ts';
import { relayEventStream, type StreamOutcome } from './relay-event-stream.ts';

const encoder = new TextEncoder();

function upstreamOf(parts: string[], failAtEnd = false): ReadableStream<Uint8Array> {
  let index = 0;
  return new ReadableStream({
    pull(controller) {
      const part = parts[index];
      index += 1;
      if (part !== undefined) {
        controller.enqueue(encoder.encode(part));
      } else if (failAtEnd) {
        controller.error(new Error('socket hang up'));
      } else {
        controller.close();
      }
    },
  });
}

function relay(
  upstream: ReadableStream<Uint8Array>,
  withholdUsageEvents = false,
  clientGone = false,
) {
  const outcomes: StreamOutcome[] = [];
  let aborted = 0;
  let events = 0;
  const tap = createStreamUsageTap({
    withholdUsageEvents,
    deliveredTextCharsMax: 1024,
    countTokens: async (text) => text.length,
  });
  const { body, expire } = relayEventStream({
    upstream: webStreamChunks(upstream),
    tap,
    eventBytesMax: 1024,
    streamError: () => new GatewayError('upstream_error', 'cut'),
    abortUpstream: () => {
      aborted += 1;
    },
    clientGone: () => clientGone,
    onEvent: () => {
      events += 1;
    },
    onEnd: (outcome) => outcomes.push(outcome),
  });
  return { body, expire, tap, outcomes, aborted: () => aborted, events: () => events };
}

const chunk = (content: string) =>
  `data: {"choices":[{"index":0,"delta":{"content":"${content}"}}]}\n\n`;
const usageChunk =
  'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}\n\n';

describe('relayEventStream', () => {
  it('relays the bytes untouched, even split mid-event, and ends complete after [DONE]', async () => {
    const whole = `${chunk(' a')}${chunk(' b')}${usageChunk}data: [DONE]\n\n`;
    const parts = [whole.slice(0, 17), whole.slice(17, 90), whole.slice(90)];
    const { body, outcomes, tap, events } = relay(upstreamOf(parts));
    expect(await new Response(body).text()).toBe(whole);
    expect(outcomes).toEqual(['complete']);
    expect(tap.delivered().text).toBe(' a b');
    expect(await tap.delivered().countedTokens).toBe(0);
    expect(tap.reported?.outputTokens).toBe(2);
    expect(events()).toBe(4);
  });

  it('withholds the usage-only chunk the gateway asked for on its own', async () => {
    const { body, tap } = relay(upstreamOf([chunk(' a'), usageChunk, 'data: [DONE]\n\n']), true);
    expect(await new Response(body).text()).toBe(`${chunk(' a')}data: [DONE]\n\n`);
    expect(tap.reported?.inputTokens).toBe(5);
  });

  it.each([
    { name: 'ends without [DONE]', failAtEnd: false },
    { name: 'breaks', failAtEnd: true },
  ])('adds an error event and [DONE] when the upstream $name', async ({ failAtEnd }) => {
    const { body, outcomes } = relay(upstreamOf([chunk(' a')], failAtEnd));
    const text = await new Response(body).text();
    expect(text).toBe(
      `${chunk(' a')}data: {"error":{"message":"cut","type":"server_error","param":null,"code":"upstream_error"}}\n\ndata: [DONE]\n\n`,
    );
    expect(outcomes).toEqual(['upstream_error']);
  });

  it('drops an event cut off mid-way, so the error event after it arrives whole', async () => {
    const { body, outcomes } = relay(upstreamOf([chunk(' a'), 'data: {"choices":[{"ind']));
    expect(await new Response(body).text()).toBe(
      `${chunk(' a')}data: {"error":{"message":"cut","type":"server_error","param":null,"code":"upstream_error"}}\n\ndata: [DONE]\n\n`,
    );
    expect(outcomes).toEqual(['upstream_error']);
  });

  it('counts an upstream torn down because the client left as a disconnect, not a failure', async () => {
    const { body, outcomes } = relay(upstreamOf([chunk(' a')], true), false, true);
    expect(await new Response(body).text()).toBe(chunk(' a'));
    expect(outcomes).toEqual(['client_disconnect']);
  });

  it('ends at once when the request expires, though the upstream never answers again', async () => {
    let sent = false;
    const silent = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(encoder.encode(chunk(' a')));
        }
        // Then nothing, ever: the pull stays pending.
        return new Promise(() => {});
      },
    });
    const { body, expire, outcomes, aborted } = relay(silent);
    const reader = body.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe(chunk(' a'));
    const pending = reader.read();
    expire(new GatewayError('request_timeout', 'too long'));
    expect(outcomes).toEqual(['upstream_error']);
    expect(aborted()).toBe(1);
    const rest: string[] = [];
    for (let next = await pending; !next.done; next = await reader.read()) {
      rest.push(new TextDecoder().decode(next.value));
    }
    expect(rest.join('')).toBe(
      'data: {"error":{"message":"too long","type":"server_error","param":null,"code":"request_timeout"}}\n\ndata: [DONE]\n\n',
    );
    expire(new GatewayError('request_timeout', 'again'));
    expect(outcomes).toEqual(['upstream_error']);
  });

  it('aborts the upstream when the client goes away', async () => {
    const { body, outcomes, aborted } = relay(upstreamOf([chunk(' a'), chunk(' b')]));
    const reader = body.getReader();
    await reader.read();
    await reader.cancel();
    expect(aborted()).toBe(1);
    expect(outcomes).toEqual(['client_disconnect']);
  });
});

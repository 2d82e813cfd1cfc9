import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../errors.ts';
import { createEventStreamTap } from '../../metering/event-stream-tap.ts';
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

function relay(upstream: ReadableStream<Uint8Array>) {
  const outcomes: StreamOutcome[] = [];
  let aborted = 0;
  const body = relayEventStream({
    upstreamBody: upstream,
    tap: createEventStreamTap(() => {}),
    streamError: () => new GatewayError('upstream_error', 'cut'),
    abortUpstream: () => {
      aborted += 1;
    },
    onEnd: (outcome) => outcomes.push(outcome),
  });
  return { body, outcomes, aborted: () => aborted };
}

describe('relayEventStream', () => {
  it('relays the bytes untouched and ends complete after [DONE]', async () => {
    const parts = ['data: {"a":1}\n\n', 'data: [DO', 'NE]\n\n'];
    const { body, outcomes } = relay(upstreamOf(parts));
    expect(await new Response(body).text()).toBe(parts.join(''));
    expect(outcomes).toEqual(['complete']);
  });

  it.each([
    { name: 'ends without [DONE]', failAtEnd: false },
    { name: 'breaks', failAtEnd: true },
  ])('adds an error event and [DONE] when the upstream $name', async ({ failAtEnd }) => {
    const { body, outcomes } = relay(upstreamOf(['data: {"a":1}\n\n'], failAtEnd));
    const text = await new Response(body).text();
    expect(text).toBe(
      'data: {"a":1}\n\ndata: {"error":{"message":"cut","type":"server_error","param":null,"code":"upstream_error"}}\n\ndata: [DONE]\n\n',
    );
    expect(outcomes).toEqual(['upstream_error']);
  });

  it('aborts the upstream when the client goes away', async () => {
    const { body, outcomes, aborted } = relay(
      upstreamOf(['data: {"a":1}\n\n', 'data: {"b":2}\n\n']),
    );
    const reader = body.getReader();
    await reader.read();
    await reader.cancel();
    expect(aborted()).toBe(1);
    expect(outcomes).toEqual(['client_disconnect']);
  });
});

/**
 * Relays an upstream SSE body to the client event by event, each event's bytes exactly as they
 * arrived, while a tap watches them on the side (and may withhold the usage-only chunk the
 * gateway asked for itself). If the upstream ends without `data: [DONE]` or breaks, the client's
 * stream is closed with an OpenAI error event and `[DONE]`, so SDKs raise an error instead of
 * returning a truncated answer. If the client goes away, the upstream request is aborted at once.
 */
import { type GatewayError, toErrorBody } from '../../errors.ts';
import { createEventSplitter, eventData } from '../../metering/event-splitter.ts';
import type { StreamUsageTap } from '../../metering/stream-usage-tap.ts';

export type StreamOutcome = 'complete' | 'upstream_error' | 'client_disconnect';

export type RelayOptions = {
  upstreamBody: ReadableStream<Uint8Array>;
  tap: StreamUsageTap;
  /** Largest unfinished event held back while waiting for its end. */
  eventBytesMax: number;
  /** The error sent to the client when the upstream stream breaks. */
  streamError: () => GatewayError;
  abortUpstream: () => void;
  /** True once the client went away: an upstream torn down for that is not a backend failure. */
  clientGone: () => boolean;
  /** After each event the tap saw: where progress is checkpointed. */
  onEvent: () => void;
  /** Called once, however the stream ends. */
  onEnd: (outcome: StreamOutcome) => void;
};

const encoder = new TextEncoder();

export function errorEventBytes(error: GatewayError): Uint8Array {
  return encoder.encode(`data: ${JSON.stringify(toErrorBody(error))}\n\ndata: [DONE]\n\n`);
}

export function relayEventStream(options: RelayOptions): ReadableStream<Uint8Array> {
  const reader = options.upstreamBody.getReader();
  const splitter = createEventSplitter(options.eventBytesMax);
  let ended = false;
  const end = (outcome: StreamOutcome) => {
    if (!ended) {
      ended = true;
      options.onEnd(outcome);
    }
  };
  const finish = (controller: ReadableStreamDefaultController<Uint8Array>, broke: boolean) => {
    if (options.clientGone()) {
      controller.close();
      end('client_disconnect');
      return;
    }
    const rest = splitter.rest();
    if (rest.length > 0) {
      controller.enqueue(rest);
    }
    if (broke || !options.tap.sawDone) {
      controller.enqueue(errorEventBytes(options.streamError()));
    }
    controller.close();
    end(broke || !options.tap.sawDone ? 'upstream_error' : 'complete');
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      // A pull must enqueue something or end, or the stream stalls: read until an event is whole.
      for (;;) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await reader.read();
        } catch {
          if (!ended) {
            finish(controller, true);
          }
          return;
        }
        if (result.done) {
          finish(controller, false);
          return;
        }
        let enqueued = false;
        for (const event of splitter.push(result.value)) {
          const data = eventData(event);
          if (data === undefined || options.tap.inspect(data)) {
            controller.enqueue(event);
            enqueued = true;
          }
          options.onEvent();
        }
        if (enqueued) {
          return;
        }
      }
    },
    cancel() {
      end('client_disconnect');
      options.abortUpstream();
      reader.cancel().catch(() => {
        // The upstream is being torn down; its own error is of no further use.
      });
    },
  });
}

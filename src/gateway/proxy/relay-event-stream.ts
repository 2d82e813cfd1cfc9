/**
 * Relays an upstream SSE body to the client byte for byte as it arrives, with a tap on the side.
 * If the upstream ends without `data: [DONE]` or breaks, the client's stream is closed with an
 * OpenAI error event and `[DONE]`, so SDKs raise an error instead of returning a truncated answer.
 * If the client goes away, the upstream request is aborted at once.
 */
import { type GatewayError, toErrorBody } from '../../errors.ts';
import type { EventStreamTap } from '../../metering/event-stream-tap.ts';

export type StreamOutcome = 'complete' | 'upstream_error' | 'client_disconnect';

export type RelayOptions = {
  upstreamBody: ReadableStream<Uint8Array>;
  tap: EventStreamTap;
  /** The error sent to the client when the upstream stream breaks. */
  streamError: () => GatewayError;
  abortUpstream: () => void;
  /** Called once, however the stream ends. */
  onEnd: (outcome: StreamOutcome) => void;
};

const encoder = new TextEncoder();

export function errorEventBytes(error: GatewayError): Uint8Array {
  return encoder.encode(`data: ${JSON.stringify(toErrorBody(error))}\n\ndata: [DONE]\n\n`);
}

export function relayEventStream(options: RelayOptions): ReadableStream<Uint8Array> {
  const reader = options.upstreamBody.getReader();
  let ended = false;
  const end = (outcome: StreamOutcome) => {
    if (!ended) {
      ended = true;
      options.onEnd(outcome);
    }
  };
  const failStream = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    controller.enqueue(errorEventBytes(options.streamError()));
    controller.close();
    end('upstream_error');
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch {
        if (!ended) {
          failStream(controller);
        }
        return;
      }
      if (result.done) {
        if (options.tap.sawDone) {
          controller.close();
          end('complete');
        } else {
          failStream(controller);
        }
        return;
      }
      options.tap.feed(result.value);
      controller.enqueue(result.value);
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

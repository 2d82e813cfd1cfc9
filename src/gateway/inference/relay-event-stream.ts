/**
 * Relays an upstream SSE body to the client event by event, each event's bytes exactly as they
 * arrived, while a tap watches them on the side (and may withhold the usage-only chunk the
 * gateway asked for itself). If the upstream ends without `data: [DONE]` or breaks, the client's
 * stream is closed with an OpenAI error event and `[DONE]`, so SDKs raise an error instead of
 * returning a truncated answer. If the client goes away, the upstream request is aborted at once.
 */
import type { ChunkSource } from '../../backends/upstream/chunk-source.ts';
import { type GatewayError, toErrorBody } from '../../errors.ts';
import {
  createEventSplitter,
  type EventSplitter,
  eventData,
} from '../../metering/event-splitter.ts';
import type { StreamUsageTap } from '../../metering/stream-usage-tap.ts';

export type StreamOutcome = 'complete' | 'upstream_error' | 'client_disconnect';

export type RelayOptions = {
  /** The backend's body, read chunk by chunk: no web stream of its own. */
  upstream: ChunkSource;
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

export type RelayedStream = {
  body: ReadableStream<Uint8Array>;
  /**
   * Ends the stream now, whatever the client or the backend is doing: the upstream is aborted,
   * the client gets `error` as the final event and `[DONE]`, and `onEnd` runs at once, so the
   * request is settled even if the client never reads another byte.
   */
  expire(error: GatewayError): void;
};

const encoder = new TextEncoder();

export function errorEventBytes(error: GatewayError): Uint8Array {
  return encoder.encode(`data: ${JSON.stringify(toErrorBody(error))}\n\ndata: [DONE]\n\n`);
}

/**
 * The relay's side of the client's stream. A class, not closures: one lives per open stream, and
 * the stream keeps it (and what its closures would hold) until the stream ends.
 */
class RelaySource implements UnderlyingDefaultSource<Uint8Array> {
  readonly #options: RelayOptions;
  readonly #splitter: EventSplitter;
  #ended = false;
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;

  constructor(options: RelayOptions) {
    this.#options = options;
    this.#splitter = createEventSplitter(options.eventBytesMax);
  }

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#controller = controller;
  }

  expire(error: GatewayError): void {
    if (this.#ended || this.#controller === undefined) {
      return;
    }
    this.#controller.enqueue(errorEventBytes(error));
    this.#controller.close();
    this.#end('upstream_error');
    this.#options.abortUpstream();
    this.#options.upstream.cancel();
  }

  async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    const options = this.#options;
    // A pull must enqueue something or end, or the stream stalls: read until an event is whole.
    for (;;) {
      let chunk: Uint8Array | undefined;
      try {
        chunk = await options.upstream.next();
      } catch {
        if (!this.#ended) {
          this.#finish(controller, true);
        }
        return;
      }
      if (this.#ended) {
        // Expired while this pull waited: the client's stream is already closed.
        return;
      }
      if (chunk === undefined) {
        this.#finish(controller, false);
        return;
      }
      let enqueued = false;
      for (const event of this.#splitter.push(chunk)) {
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
  }

  cancel(): void {
    this.#end('client_disconnect');
    this.#options.abortUpstream();
    this.#options.upstream.cancel();
  }

  #end(outcome: StreamOutcome): void {
    if (!this.#ended) {
      this.#ended = true;
      this.#options.onEnd(outcome);
    }
  }

  #finish(controller: ReadableStreamDefaultController<Uint8Array>, broke: boolean): void {
    const options = this.#options;
    if (options.clientGone()) {
      controller.close();
      this.#end('client_disconnect');
      return;
    }
    const incomplete = broke || !options.tap.sawDone;
    const rest = this.#splitter.rest();
    // An event cut off mid-way is not relayed before the error event: joined to it, it would
    // garble both (and the tap never saw it, so it is not billed either).
    if (rest.length > 0 && !incomplete) {
      controller.enqueue(rest);
    }
    if (incomplete) {
      controller.enqueue(errorEventBytes(options.streamError()));
    }
    controller.close();
    this.#end(incomplete ? 'upstream_error' : 'complete');
  }
}

export function relayEventStream(options: RelayOptions): RelayedStream {
  const source = new RelaySource(options);
  return {
    body: new ReadableStream<Uint8Array>(source),
    expire: (error) => source.expire(error),
  };
}

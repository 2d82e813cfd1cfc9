/**
 * Translates the chat SSE stream the relay sends (relay-event-stream.ts) into a Responses stream
 * as it arrives, event by event: a chat event is whole once its blank line came (the splitter
 * holds at most one unfinished event, within its bound), and becomes zero or more Responses
 * events at once. `[DONE]` completes the response; the relay's error event (a backend that broke,
 * the request deadline) fails it; a chat stream that ends without either fails it too.
 *
 * The client reading this stream pulls the chat stream, so a slow client slows the backend and
 * one that leaves cancels it (the relay then settles what was delivered). Once the response is
 * final, the rest of the chat stream (its `[DONE]`, the close) is read off so the relay ends as it
 * would with a chat client, and settles the request as complete.
 */
import type { ChunkSource } from '../../backends/upstream/chunk-source.ts';
import {
  createEventSplitter,
  type EventSplitter,
  eventData,
} from '../../metering/event-splitter.ts';
import { readReportedUsage } from '../../metering/usage.ts';
import {
  eventBytes,
  type ResponseEvent,
  type ResponseEventWriter,
} from './response-event-writer.ts';

export type ResponsesStreamOptions = {
  /** The relayed chat stream. */
  chat: ChunkSource;
  writer: ResponseEventWriter;
  /** Largest unfinished chat event held back while waiting for its end. */
  eventBytesMax: number;
};

const brokenStreamMessage = 'The answer stream ended before it was complete.';

function errorMessageOf(error: unknown): string {
  const message = (error as { message?: unknown }).message;
  return typeof message === 'string' ? message : brokenStreamMessage;
}

/** A class, not closures: one lives per open stream. */
class TranslatingSource implements UnderlyingDefaultSource<Uint8Array> {
  readonly #chat: ChunkSource;
  readonly #writer: ResponseEventWriter;
  readonly #splitter: EventSplitter;
  /** The chat stream said its last word (`[DONE]` or an error): only its close is left to read. */
  #chatFinished = false;

  constructor(options: ResponsesStreamOptions) {
    this.#chat = options.chat;
    this.#writer = options.writer;
    this.#splitter = createEventSplitter(options.eventBytesMax);
  }

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    controller.enqueue(eventBytes(this.#writer.opening()));
  }

  async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    // A pull must enqueue something or end, or the stream stalls: read until an event comes out.
    for (;;) {
      let chunk: Uint8Array | undefined;
      try {
        chunk = await this.#chat.next();
      } catch {
        chunk = undefined;
      }
      const events =
        chunk === undefined
          ? this.#translateLast()
          : this.#translateAll(this.#splitter.push(chunk));
      if (events.length > 0) {
        controller.enqueue(eventBytes(events));
      }
      if (this.#writer.ended) {
        controller.close();
        this.#letChatGo(chunk === undefined);
        return;
      }
      if (events.length > 0) {
        return;
      }
    }
  }

  cancel(): void {
    this.#chat.cancel();
  }

  #translateAll(chatEvents: readonly Uint8Array[]): ResponseEvent[] {
    const events: ResponseEvent[] = [];
    for (const chatEvent of chatEvents) {
      const data = eventData(chatEvent);
      if (data !== undefined) {
        events.push(...this.#translate(data));
      }
    }
    return events;
  }

  /** The chat stream ended: an event left without its blank line still counts, then it is over. */
  #translateLast(): ResponseEvent[] {
    const rest = this.#splitter.rest();
    const events = rest.length > 0 ? this.#translateAll([rest]) : [];
    events.push(...this.#writer.fail(brokenStreamMessage));
    return events;
  }

  #translate(data: string): ResponseEvent[] {
    if (data === '[DONE]') {
      this.#chatFinished = true;
      return this.#writer.complete();
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      // Not a chat chunk (the tap ignores it too): nothing was delivered by it.
      return [];
    }
    if (typeof parsed !== 'object' || parsed === null) {
      return [];
    }
    const { error, choices } = parsed as { error?: unknown; choices?: unknown };
    if (typeof error === 'object' && error !== null) {
      this.#chatFinished = true;
      return this.#writer.fail(errorMessageOf(error));
    }
    const reported = readReportedUsage(parsed);
    if (reported !== undefined) {
      this.#writer.usage(reported);
    }
    const choice: unknown = Array.isArray(choices) ? choices[0] : undefined;
    if (typeof choice !== 'object' || choice === null) {
      return [];
    }
    const { delta, finish_reason } = choice as {
      delta?: { content?: unknown };
      finish_reason?: unknown;
    };
    this.#writer.finishReason(finish_reason);
    const content = delta?.content;
    return typeof content === 'string' ? this.#writer.text(content) : [];
  }

  /**
   * After the final event: a chat stream that finished is read to its end in the background, so
   * the relay settles it as complete; one still producing (the answer outgrew its bound) is
   * cancelled, so the backend stops and only what was delivered is billed.
   */
  #letChatGo(chatEnded: boolean): void {
    if (chatEnded) {
      return;
    }
    if (!this.#chatFinished) {
      this.#chat.cancel();
      return;
    }
    const chat = this.#chat;
    const drain = async () => {
      while ((await chat.next()) !== undefined) {
        // What follows the last word (`[DONE]` after an error event) is of no use to the client.
      }
    };
    drain().catch(() => {
      // The relay settles a chat stream however it ends; a failed read here changes nothing.
    });
  }
}

export function responsesEventStream(options: ResponsesStreamOptions): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(new TranslatingSource(options));
}

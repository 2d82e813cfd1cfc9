/**
 * The typed events of a streamed Responses answer, in the order OpenAI sends them, each with the
 * next `sequence_number`: response.created and response.in_progress at once; the message and its
 * text part opened with the first text; a delta per chunk of text; then the text, part and
 * message closed and response.completed (or response.incomplete when the answer was cut by its
 * length), or response.failed. It is fed what the chat answer says (text, finish reason, usage)
 * and knows nothing of SSE bytes. The text is held whole (the closing events and the final
 * response carry it) up to a bound; past it the response fails rather than hold more.
 */

import type { ReportedUsage } from '../../metering/usage.ts';
import {
  endingOf,
  type OutputMessage,
  outputMessage,
  outputText,
  type ResponseIdentity,
  type ResponsesUsage,
  responseObject,
  responsesUsageOf,
} from './responses-answer.ts';

export type ResponseEvent = { type: string; sequence_number: number } & Record<string, unknown>;

/** The message is the only output item, its text the only content part. */
const outputIndex = 0;
const contentIndex = 0;

export class ResponseEventWriter {
  readonly #identity: ResponseIdentity;
  readonly #textCharsMax: number;
  #sequence = 0;
  #text = '';
  #messageOpen = false;
  #finishReason: unknown;
  #usage: ResponsesUsage | undefined;
  #ended = false;

  constructor(identity: ResponseIdentity, textCharsMax: number) {
    this.#identity = identity;
    this.#textCharsMax = textCharsMax;
  }

  /** True once a final event (completed, incomplete or failed) was written. */
  get ended(): boolean {
    return this.#ended;
  }

  opening(): ResponseEvent[] {
    const response = responseObject(this.#identity, { status: 'in_progress', message: undefined });
    return [
      this.#event('response.created', { response }),
      this.#event('response.in_progress', { response }),
    ];
  }

  text(delta: string): ResponseEvent[] {
    if (this.#ended || delta === '') {
      return [];
    }
    if (this.#text.length + delta.length > this.#textCharsMax) {
      return this.fail(
        `The answer is longer than this gateway relays (${this.#textCharsMax} characters).`,
      );
    }
    const events = this.#messageOpen ? [] : this.#openMessage();
    this.#text += delta;
    events.push(
      this.#event('response.output_text.delta', {
        ...this.#position(),
        delta,
        logprobs: [],
      }),
    );
    return events;
  }

  finishReason(reason: unknown): void {
    if (reason !== undefined && reason !== null) {
      this.#finishReason = reason;
    }
  }

  usage(reported: ReportedUsage): void {
    this.#usage = responsesUsageOf(reported) ?? this.#usage;
  }

  /** The answer ended whole: the message closed, then the final response with its usage. */
  complete(): ResponseEvent[] {
    if (this.#ended) {
      return [];
    }
    const events = this.#messageOpen ? [] : this.#openMessage();
    const ending = endingOf(this.#finishReason);
    const message = this.#message(ending.status);
    events.push(
      this.#event('response.output_text.done', {
        ...this.#position(),
        text: this.#text,
        logprobs: [],
      }),
      this.#event('response.content_part.done', {
        ...this.#position(),
        part: outputText(this.#text),
      }),
      this.#event('response.output_item.done', { output_index: outputIndex, item: message }),
    );
    const response = responseObject(this.#identity, {
      status: ending.status,
      message,
      incompleteReason: ending.incompleteReason,
      usage: this.#usage,
    });
    this.#ended = true;
    const type = ending.status === 'completed' ? 'response.completed' : 'response.incomplete';
    events.push(this.#event(type, { response }));
    return events;
  }

  /** The answer broke: the final response says so, with what was delivered until then. */
  fail(message: string): ResponseEvent[] {
    if (this.#ended) {
      return [];
    }
    this.#ended = true;
    const response = responseObject(this.#identity, {
      status: 'failed',
      message: this.#messageOpen ? this.#message('incomplete') : undefined,
      error: { code: 'server_error', message },
      usage: this.#usage,
    });
    return [this.#event('response.failed', { response })];
  }

  #openMessage(): ResponseEvent[] {
    this.#messageOpen = true;
    const item = outputMessage(this.#identity.messageId, 'in_progress', []);
    return [
      this.#event('response.output_item.added', { output_index: outputIndex, item }),
      this.#event('response.content_part.added', { ...this.#position(), part: outputText('') }),
    ];
  }

  #message(status: OutputMessage['status']): OutputMessage {
    return outputMessage(this.#identity.messageId, status, [outputText(this.#text)]);
  }

  #position() {
    return {
      item_id: this.#identity.messageId,
      output_index: outputIndex,
      content_index: contentIndex,
    };
  }

  #event(type: string, fields: Record<string, unknown>): ResponseEvent {
    const event = { type, sequence_number: this.#sequence, ...fields };
    this.#sequence += 1;
    return event;
  }
}

const encoder = new TextEncoder();

/** Events as SSE bytes: `event: <type>` and `data: <json>` each, and no `[DONE]` at the end. */
export function eventBytes(events: readonly ResponseEvent[]): Uint8Array<ArrayBuffer> {
  let text = '';
  for (const event of events) {
    text += `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
  }
  return encoder.encode(text);
}

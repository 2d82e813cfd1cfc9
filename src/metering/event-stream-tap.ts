/**
 * Watches an OpenAI server-sent-event stream on the side while its bytes are relayed untouched.
 * It decodes and parses a copy (multi-byte characters and events split across chunks are
 * handled), and reports each event's data: enough to see `[DONE]`, errors and, later, usage.
 */
import { createParser } from 'eventsource-parser';

export type EventStreamTap = {
  feed(bytes: Uint8Array): void;
  /** True once `data: [DONE]` went by. */
  readonly sawDone: boolean;
  /** Events seen, `[DONE]` excluded. */
  readonly eventCount: number;
};

export function createEventStreamTap(onEventData: (data: string) => void): EventStreamTap {
  const decoder = new TextDecoder();
  let sawDone = false;
  let eventCount = 0;
  const parser = createParser({
    onEvent(event) {
      if (event.data === '[DONE]') {
        sawDone = true;
        return;
      }
      eventCount += 1;
      onEventData(event.data);
    },
  });
  return {
    feed(bytes) {
      parser.feed(decoder.decode(bytes, { stream: true }));
    },
    get sawDone() {
      return sawDone;
    },
    get eventCount() {
      return eventCount;
    },
  };
}

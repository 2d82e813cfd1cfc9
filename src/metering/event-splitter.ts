/**
 * Splits a server-sent-event byte stream into whole events without decoding or copying what
 * need not be: each event comes out as the exact bytes that arrived, blank-line terminator
 * included, so relaying them changes nothing. Bytes of an unfinished event wait for the rest.
 */

const lineFeed = 10;
const carriageReturn = 13;

/** Index just past the first event terminator ("\n\n" or "\r\n\r\n") at or after `from`, or -1. */
function terminatorEnd(bytes: Uint8Array, from: number): number {
  for (let index = from; index < bytes.length - 1; index += 1) {
    if (bytes[index] !== lineFeed) {
      continue;
    }
    if (bytes[index + 1] === lineFeed) {
      return index + 2;
    }
    if (bytes[index + 1] === carriageReturn && bytes[index + 2] === lineFeed) {
      return index + 3;
    }
  }
  return -1;
}

function joinBytes(left: Uint8Array, right: Uint8Array): Uint8Array {
  const joined = new Uint8Array(left.length + right.length);
  joined.set(left, 0);
  joined.set(right, left.length);
  return joined;
}

export type EventSplitter = {
  /** The whole events completed by this chunk, in order. */
  push(chunk: Uint8Array): Uint8Array[];
  /** Bytes of an event that never finished. */
  rest(): Uint8Array;
};

const noBytes = new Uint8Array(0);

/** A class, not closures: one lives per open stream. */
class BufferedEventSplitter implements EventSplitter {
  #pending: Uint8Array = noBytes;
  readonly #bufferedBytesMax: number;

  constructor(bufferedBytesMax: number) {
    this.#bufferedBytesMax = bufferedBytesMax;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    const bytes = this.#pending.length === 0 ? chunk : joinBytes(this.#pending, chunk);
    const events: Uint8Array[] = [];
    let start = 0;
    for (let end = terminatorEnd(bytes, 0); end !== -1; end = terminatorEnd(bytes, start)) {
      events.push(bytes.subarray(start, end));
      start = end;
    }
    // Nothing left over: keep no view of the chunk, or its whole buffer would stay alive.
    this.#pending = start === bytes.length ? noBytes : bytes.subarray(start);
    if (this.#pending.length > this.#bufferedBytesMax) {
      // An "event" this large is not one: pass it on rather than hold it without bound.
      events.push(this.#pending);
      this.#pending = noBytes;
    }
    return events;
  }

  rest(): Uint8Array {
    return this.#pending;
  }
}

export function createEventSplitter(bufferedBytesMax: number): EventSplitter {
  return new BufferedEventSplitter(bufferedBytesMax);
}

const decoder = new TextDecoder();

/** The data of one event (its `data:` lines joined by "\n"), or undefined when it has none. */
export function eventData(event: Uint8Array): string | undefined {
  const lines = decoder.decode(event).split(/\r?\n/);
  let data: string | undefined;
  for (const line of lines) {
    if (line.startsWith('data:')) {
      const value = line.slice(line.startsWith('data: ') ? 6 : 5);
      data = data === undefined ? value : `${data}\n${value}`;
    }
  }
  return data;
}

/**
 * A response body read chunk by chunk without a web stream: all that relaying a stream needs.
 * A web ReadableStream with its reader and one pending read holds ~3.4 KB of heap and allocates
 * several promises per chunk, and a relayed stream used to stack three of them (the runtime's
 * body, a replay of the first chunk, the relay itself) for as long as it lasted. A source comes
 * from the runtime (the Node one reads undici's body directly) or from any web stream.
 */
import { joinParts, responseTooLarge, type UpstreamResponse } from './upstream.ts';

export type ChunkSource = {
  /** The next chunk, or undefined once the body ended; rejects when the body broke. */
  next(): Promise<Uint8Array | undefined>;
  /** Stops reading and frees the body; safe at any time, more than once. */
  cancel(): void;
};

/** A source over a web stream, for runtimes (and tests) that have only that. */
export function webStreamChunks(stream: ReadableStream<Uint8Array>): ChunkSource {
  const reader = stream.getReader();
  return {
    next: async () => {
      const result = await reader.read();
      return result.done ? undefined : result.value;
    },
    cancel: () => {
      reader.cancel().catch(() => {
        // The body is being dropped; its own error is of no further use.
      });
    },
  };
}

/** `first`, already read to see that the body started, then the rest of `source`. */
class ReplayingFirst implements ChunkSource {
  #pending: Uint8Array | undefined;
  readonly #source: ChunkSource;

  constructor(first: Uint8Array, source: ChunkSource) {
    this.#pending = first;
    this.#source = source;
  }

  next(): Promise<Uint8Array | undefined> {
    const chunk = this.#pending;
    if (chunk === undefined) {
      return this.#source.next();
    }
    this.#pending = undefined;
    return Promise.resolve(chunk);
  }

  cancel(): void {
    this.#pending = undefined;
    this.#source.cancel();
  }
}

export function replayingFirst(first: Uint8Array, source: ChunkSource): ChunkSource {
  return new ReplayingFirst(first, source);
}

/** A web stream over a source, made only for a caller that insists on one. */
export function chunkStream(source: ChunkSource): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = await source.next();
      if (chunk === undefined) {
        controller.close();
      } else {
        controller.enqueue(chunk);
      }
    },
    cancel: () => source.cancel(),
  });
}

/** The response's body as a source: the runtime's own when it has one, else over its web stream. */
export function chunkSourceOf(response: UpstreamResponse): ChunkSource {
  return response.chunks ? response.chunks() : webStreamChunks(response.body);
}

/** Reads what is left of a source whole, refusing more than the limit. */
export async function readAllChunks(
  source: ChunkSource,
  bytesMax: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (let chunk = await source.next(); chunk !== undefined; chunk = await source.next()) {
    total += chunk.byteLength;
    if (total > bytesMax) {
      source.cancel();
      throw responseTooLarge(bytesMax);
    }
    parts.push(chunk);
  }
  return joinParts(parts, total);
}

/**
 * The response with its body read from `source` however it is read: chunk by chunk, whole, or,
 * only if someone asks, as a web stream. Used once the first chunk was taken off the body.
 */
class ResponseOverChunks implements UpstreamResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly #source: ChunkSource;
  #web: ReadableStream<Uint8Array> | undefined;

  constructor(response: UpstreamResponse, source: ChunkSource) {
    this.status = response.status;
    this.headers = response.headers;
    this.#source = source;
  }

  get body(): ReadableStream<Uint8Array> {
    this.#web ??= chunkStream(this.#source);
    return this.#web;
  }

  readAll(bytesMax: number): Promise<Uint8Array<ArrayBuffer>> {
    return readAllChunks(this.#source, bytesMax);
  }

  chunks(): ChunkSource {
    return this.#source;
  }
}

export function responseOverChunks(
  response: UpstreamResponse,
  source: ChunkSource,
): UpstreamResponse {
  return new ResponseOverChunks(response, source);
}

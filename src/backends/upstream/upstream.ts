/**
 * The Upstream port: one HTTP exchange with a backend. The Node runtime implements it with
 * undici keep-alive pools per backend; tests and other runtimes can pass their own. Failures are
 * UpstreamErrors that say whether another backend may be tried.
 */
import type { AbortNotice } from '../../platform/abort-notice.ts';
import type { ChunkSource } from './chunk-source.ts';

export type UpstreamTarget = {
  id: string;
  /** OpenAI-compatible base URL, ending in /v1. */
  url: string;
  apiKey: string | null;
};

export type UpstreamRequest = {
  method: 'GET' | 'POST';
  /** Path below the base URL, starting with '/': '/chat/completions'. */
  path: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
  /** Aborts the exchange, before or during the answer. */
  signal: AbortNotice;
};

export type UpstreamResponse = {
  status: number;
  headers: Record<string, string>;
  body: ReadableStream<Uint8Array>;
  /**
   * Reads the whole body without a web stream, when the runtime can (a web stream per buffered
   * response costs more than the rest of relaying it); refuses one larger than the limit.
   */
  readAll?: (bytesMax: number) => Promise<Uint8Array<ArrayBuffer>>;
  /** Reads the body chunk by chunk without a web stream, when the runtime can (relayed streams). */
  chunks?: () => ChunkSource;
};

export type UpstreamErrorKind = 'connect' | 'timeout' | 'aborted' | 'protocol' | 'too_large';

export class UpstreamError extends Error {
  override name = 'UpstreamError';
  readonly kind: UpstreamErrorKind;

  constructor(kind: UpstreamErrorKind, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.kind = kind;
  }

  /** Connection and timeout failures may succeed elsewhere; an abort means the client left. */
  get isRetryable(): boolean {
    return this.kind === 'connect' || this.kind === 'timeout' || this.kind === 'protocol';
  }
}

export type Upstream = {
  send(target: UpstreamTarget, request: UpstreamRequest): Promise<UpstreamResponse>;
  /** Drops the connections kept for a backend that left the pool. */
  forget(backendId: string): void;
  close(): Promise<void>;
};

/** Reads a whole response, the runtime's own way when it has one, within the limit. */
export function readResponseBytes(
  response: UpstreamResponse,
  bytesMax: number,
): Promise<Uint8Array<ArrayBuffer>> {
  return response.readAll ? response.readAll(bytesMax) : readAllBytes(response.body, bytesMax);
}

/** Joins body parts into one array. */
export function joinParts(
  parts: readonly Uint8Array[],
  totalBytes: number,
): Uint8Array<ArrayBuffer> {
  const joined = new Uint8Array(totalBytes);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.byteLength;
  }
  return joined;
}

export function responseTooLarge(bytesMax: number): UpstreamError {
  return new UpstreamError('too_large', `upstream response exceeds ${bytesMax} bytes`);
}

/** Reads a whole response body, refusing one larger than the limit. */
export async function readAllBytes(
  body: ReadableStream<Uint8Array>,
  bytesMax: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const parts: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      break;
    }
    total += value.byteLength;
    if (total > bytesMax) {
      await reader.cancel();
      throw responseTooLarge(bytesMax);
    }
    parts.push(value);
  }
  return joinParts(parts, total);
}

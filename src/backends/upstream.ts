/**
 * The Upstream port: one HTTP exchange with a backend. The Node runtime implements it with
 * undici keep-alive pools per backend; tests and other runtimes can pass their own. Failures are
 * UpstreamErrors that say whether another backend may be tried.
 */

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
  signal: AbortSignal;
};

export type UpstreamResponse = {
  status: number;
  headers: Record<string, string>;
  body: ReadableStream<Uint8Array>;
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
      throw new UpstreamError('too_large', `upstream response exceeds ${bytesMax} bytes`);
    }
    parts.push(value);
  }
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.byteLength;
  }
  return joined;
}

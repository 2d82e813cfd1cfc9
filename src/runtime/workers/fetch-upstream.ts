/**
 * The Upstream port over the Workers runtime's `fetch`: the request the core built, sent to the
 * backend's URL (which passed the same URL policy at registration), with the headers timeout
 * (connecting included: fetch does not tell the two apart) and the body-idle timeout of config.
 * A failure becomes an UpstreamError the core can act on: a backend that could not be reached or
 * timed out is retried elsewhere, a client that left is not. On Cloudflare's network, fetch to a
 * private address is refused by the platform itself.
 */
import {
  type Upstream,
  UpstreamError,
  type UpstreamResponse,
} from '../../backends/upstream/upstream.ts';
import type { Config } from '../../config.ts';
import type { AbortNotice } from '../../platform/abort-notice.ts';
import { arrayBufferBytes } from '../../platform/array-buffer-bytes.ts';

type Timeouts = Pick<Config['limits'], 'upstreamHeadersTimeoutMs' | 'upstreamBodyIdleTimeoutMs'>;

/** The body, ended with a timeout error when the backend stays silent too long. */
function idleGuarded(body: ReadableStream<Uint8Array>, idleMs: number): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const silence = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () => reject(new UpstreamError('timeout', `upstream silent for ${idleMs} ms`)),
          idleMs,
        );
      });
      try {
        const { done, value } = await Promise.race([reader.read(), silence]);
        if (done) {
          controller.close();
        } else {
          controller.enqueue(value);
        }
      } catch (error) {
        void reader.cancel().catch(() => undefined);
        controller.error(
          error instanceof UpstreamError ? error : new UpstreamError('protocol', String(error)),
        );
      } finally {
        clearTimeout(timer);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/** fetch takes an AbortSignal: a lighter notice (an attempt's AbortSwitch) is passed on to one. */
function abortSignalOf(notice: AbortNotice): AbortSignal {
  if (notice instanceof AbortSignal) {
    return notice;
  }
  const controller = new AbortController();
  if (notice.aborted) {
    controller.abort();
  } else {
    notice.addEventListener('abort', () => controller.abort(), { once: true });
  }
  return controller.signal;
}

export function createFetchUpstream(limits: Timeouts): Upstream {
  return {
    async send(target, request): Promise<UpstreamResponse> {
      const headers: Record<string, string> = { ...request.headers };
      if (target.apiKey !== null) {
        headers.authorization = `Bearer ${target.apiKey}`;
      }
      const headersTimeout = AbortSignal.timeout(limits.upstreamHeadersTimeoutMs);
      let response: Response;
      try {
        response = await fetch(`${target.url}${request.path}`, {
          method: request.method,
          headers,
          ...(request.body === undefined ? {} : { body: arrayBufferBytes(request.body) }),
          signal: AbortSignal.any([abortSignalOf(request.signal), headersTimeout]),
        });
      } catch (error) {
        if (request.signal.aborted) {
          throw new UpstreamError('aborted', 'the client went away', error);
        }
        const kind = headersTimeout.aborted ? 'timeout' : 'connect';
        throw new UpstreamError(kind, `${target.id}: ${String(error)}`, error);
      }
      const responseHeaders: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        responseHeaders[name] = value;
      });
      return {
        status: response.status,
        headers: responseHeaders,
        body: idleGuarded(
          response.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() }),
          limits.upstreamBodyIdleTimeoutMs,
        ),
      };
    },
    // fetch keeps no pool of its own per backend: nothing to forget or close.
    forget() {},
    close: async () => undefined,
  };
}

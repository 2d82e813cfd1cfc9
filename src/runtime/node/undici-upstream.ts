/**
 * The Upstream port over undici: one keep-alive Pool per backend with explicit connect, headers
 * and body-idle timeouts from config. undici's errors become UpstreamErrors so the core can tell
 * a dead backend (retry elsewhere) from a client that left (stop). Connections resolve names with
 * the same ResolveHost port the URL policy uses, and unless private backends are allowed every
 * answer is checked again, so a name that resolved to a public address at registration cannot be
 * re-pointed at the operator's network later (DNS rebinding).
 */
import type { LookupAddress, LookupOptions } from 'node:dns';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { Pool } from 'undici';
import {
  isNonPublicAddress,
  type ResolveHost,
} from '../../backends/upstream/backend-url-policy.ts';
import { type ChunkSource, chunkStream } from '../../backends/upstream/chunk-source.ts';
import {
  joinParts,
  responseTooLarge,
  type Upstream,
  UpstreamError,
  type UpstreamErrorKind,
  type UpstreamResponse,
  type UpstreamTarget,
} from '../../backends/upstream/upstream.ts';
import type { Limits } from '../../config.ts';
import type { AbortNotice } from '../../platform/abort-notice.ts';

const connectErrorCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);
const timeoutErrorCodes = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

/**
 * undici listens for an abort on an AbortSignal or on an emitter's 'abort' event; the gateway's
 * lighter notices (an attempt's AbortSwitch) are passed on through an emitter, which costs a
 * fraction of the AbortSignal it replaces.
 */
function undiciSignal(notice: AbortNotice): AbortSignal | EventEmitter {
  if (notice instanceof AbortSignal) {
    return notice;
  }
  const emitter = new EventEmitter();
  notice.addEventListener('abort', () => emitter.emit('abort'), { once: true });
  return emitter;
}

function kindOf(error: unknown, signal: AbortNotice): UpstreamErrorKind {
  if (signal.aborted) {
    return 'aborted';
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && timeoutErrorCodes.has(code)) {
    return 'timeout';
  }
  if (typeof code === 'string' && connectErrorCodes.has(code)) {
    return 'connect';
  }
  return 'protocol';
}

function toUpstreamError(error: unknown, signal: AbortNotice): UpstreamError {
  const message = error instanceof Error ? error.message : String(error);
  return new UpstreamError(kindOf(error, signal), message, error);
}

/**
 * An UpstreamResponse whose web stream is made only if asked for; `readAll` and `chunks` read
 * undici's body directly.
 */
function nodeResponse(
  status: number,
  headers: Record<string, string>,
  body: Readable,
  signal: AbortNotice,
): UpstreamResponse {
  let web: ReadableStream<Uint8Array> | undefined;
  let chunks: ChunkSource | undefined;
  const source = () => {
    chunks ??= new NodeChunks(body, signal);
    return chunks;
  };
  return {
    status,
    headers,
    get body() {
      web ??= chunkStream(source());
      return web;
    },
    chunks: source,
    readAll: async (bytesMax) => {
      const parts: Uint8Array[] = [];
      let total = 0;
      try {
        for await (const part of body) {
          total += (part as Uint8Array).byteLength;
          if (total > bytesMax) {
            body.destroy();
            throw responseTooLarge(bytesMax);
          }
          parts.push(part as Uint8Array);
        }
      } catch (error) {
        throw error instanceof UpstreamError ? error : toUpstreamError(error, signal);
      }
      return joinParts(parts, total);
    },
  };
}

/** undici's body chunk by chunk: its errors become UpstreamErrors, and cancel frees it. */
class NodeChunks implements ChunkSource {
  readonly #body: Readable;
  readonly #signal: AbortNotice;
  readonly #iterator: AsyncIterator<unknown>;

  constructor(body: Readable, signal: AbortNotice) {
    this.#body = body;
    this.#signal = signal;
    this.#iterator = body[Symbol.asyncIterator]();
  }

  async next(): Promise<Uint8Array | undefined> {
    try {
      const { done, value } = await this.#iterator.next();
      return done ? undefined : (value as Uint8Array);
    } catch (error) {
      throw toUpstreamError(error, this.#signal);
    }
  }

  cancel(): void {
    // Destroying an unread body emits an abort error nobody listens for; it must not crash.
    this.#body.once('error', ignoreError);
    this.#body.destroy();
  }
}

function ignoreError(): void {
  // The body is being dropped; its own error is of no further use.
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>) {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) {
      flat[name] = Array.isArray(value) ? value.join(', ') : value;
    }
  }
  return flat;
}

export type UpstreamAddressPolicy = {
  /** Refuse to connect to loopback, private, link-local or metadata addresses. */
  publicAddressesOnly: boolean;
  resolveHost: ResolveHost;
};

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** A `net.connect` lookup over `resolveHost` that may refuse non-public answers. */
function checkedLookup(policy: UpstreamAddressPolicy) {
  return (hostName: string, options: LookupOptions, callback: LookupCallback) => {
    policy.resolveHost(hostName).then(
      (addresses) => {
        const refused = policy.publicAddressesOnly ? addresses.find(isNonPublicAddress) : undefined;
        const first = addresses[0];
        if (refused !== undefined || first === undefined) {
          const error: NodeJS.ErrnoException = new Error(
            `backend host ${hostName} resolves to ${refused ?? 'nothing'}: loopback, private, link-local and metadata addresses are refused (TOKENBANK_ALLOW_PRIVATE_BACKENDS)`,
          );
          error.code = 'EHOSTUNREACH';
          callback(error, '');
          return;
        }
        const entries = addresses.map((address) => ({ address, family: isIP(address) }));
        if (options.all === true) {
          callback(null, entries);
        } else {
          callback(null, first, isIP(first));
        }
      },
      (error: NodeJS.ErrnoException) => callback(error, ''),
    );
  };
}

export function createUndiciUpstream(
  limits: Limits,
  addressPolicy: UpstreamAddressPolicy | undefined = undefined,
): Upstream {
  const connect = addressPolicy ? { lookup: checkedLookup(addressPolicy) } : {};
  /** Per backend: its pool, and the URL it was made for, parsed once rather than per request. */
  const pools = new Map<string, { url: string; origin: string; basePath: string; pool: Pool }>();

  function poolFor(target: UpstreamTarget): { pool: Pool; basePath: string } {
    const known = pools.get(target.id);
    if (known?.url === target.url) {
      return known;
    }
    const url = new URL(target.url);
    let entry = known;
    if (!entry || entry.origin !== url.origin) {
      entry?.pool.close().catch(() => {});
      entry = {
        url: target.url,
        origin: url.origin,
        basePath: '',
        pool: new Pool(url.origin, {
          connections: limits.upstreamConnectionsPerBackend,
          pipelining: 1,
          keepAliveTimeout: 60_000,
          connectTimeout: limits.upstreamConnectTimeoutMs,
          headersTimeout: limits.upstreamHeadersTimeoutMs,
          bodyTimeout: limits.upstreamBodyIdleTimeoutMs,
          connect,
        }),
      };
      pools.set(target.id, entry);
    }
    entry.url = target.url;
    entry.basePath = url.pathname.replace(/\/$/, '');
    return entry;
  }

  return {
    async send(target, request) {
      const { pool, basePath } = poolFor(target);
      if (request.signal.aborted) {
        // An emitter cannot tell undici of an abort that already happened.
        throw toUpstreamError(
          new Error('The exchange was aborted before it was sent.'),
          request.signal,
        );
      }
      const headers = { ...request.headers };
      if (target.apiKey !== null) {
        headers.authorization = `Bearer ${target.apiKey}`;
      }
      try {
        const response = await pool.request({
          method: request.method,
          path: `${basePath}${request.path}`,
          headers,
          body: request.body === undefined ? null : request.body,
          signal: undiciSignal(request.signal),
        });
        return nodeResponse(
          response.statusCode,
          flattenHeaders(response.headers),
          response.body,
          request.signal,
        );
      } catch (error) {
        throw toUpstreamError(error, request.signal);
      }
    },
    forget(backendId) {
      const entry = pools.get(backendId);
      pools.delete(backendId);
      // close() lets requests in flight finish before the connections go.
      entry?.pool.close().catch(() => {});
    },
    async close() {
      const closing = [...pools.values()].map((entry) => entry.pool.close());
      pools.clear();
      await Promise.allSettled(closing);
    },
  };
}

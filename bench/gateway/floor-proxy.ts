/**
 * The floor: the least a Hono + undici gateway can do per request. It reads the request body
 * straight from node's IncomingMessage, forwards it over a keep-alive undici Pool, buffers a JSON
 * answer and relays an SSE answer chunk by chunk. No auth, no billing, no parsing: whatever
 * tokenbank costs above this is what its features cost, so every column is also shown as a
 * ratio to this one.
 *
 * With a `ledger` (durable-ledger-floor.ts) it is the durable-ledger floor: the same proxy that
 * also holds the request's money durably before forwarding and settles it durably before
 * answering, the least a gateway that never loses money can do.
 */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { type HttpBindings, serve } from '@hono/node-server';
import { Hono } from 'hono';
import { Pool } from 'undici';

/** A request's money held by a FloorLedger. */
export type FloorHold = { id: number | bigint; account: string; amount: bigint };

/** Money held before forwarding and settled before answering, each durable when it resolves. */
export type FloorLedger = {
  /** The request's hold, or the refusal to answer with instead of forwarding. */
  reserve(account: string): Promise<FloorHold | Response>;
  /** Settles a hold from the answer's JSON (undefined for a stream: the hold is charged). */
  settle(hold: FloorHold, answerBytes: Uint8Array | undefined): Promise<void>;
};

export type FloorProxyOptions = { host: string; upstreamUrl: string; ledger?: FloorLedger };
export type FloorProxy = { url: string; close(): Promise<void> };

/** Upstream connections, above any concurrency the bench drives through the floor. */
const upstreamConnectionsMax = 2048;
const upstreamKeepAliveTimeoutMs = 120_000;

function readIncomingBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    request.on('data', (part: Buffer) => parts.push(part));
    request.once('end', () =>
      resolve(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts)),
    );
    request.once('error', reject);
  });
}

/**
 * A web stream that pulls undici's body one chunk at a time and frees it when cancelled;
 * `beforeEnd` runs, and is awaited, before the client sees the end.
 */
function relayBody(body: Readable, beforeEnd: () => Promise<void>): ReadableStream<Uint8Array> {
  const chunks = body[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next();
      if (next.done === true) {
        await beforeEnd();
        controller.close();
        return;
      }
      controller.enqueue(next.value as Uint8Array);
    },
    cancel() {
      body.destroy();
    },
  });
}

function headerText(value: string | string[] | undefined, fallback: string): string {
  return (Array.isArray(value) ? value[0] : value) ?? fallback;
}

export function startFloorProxy(options: FloorProxyOptions): Promise<FloorProxy> {
  const upstream = new Pool(options.upstreamUrl, {
    connections: upstreamConnectionsMax,
    pipelining: 1,
    keepAliveTimeout: upstreamKeepAliveTimeoutMs,
  });
  const app = new Hono<{ Bindings: HttpBindings }>();
  const ledger = options.ledger;
  app.post('/v1/chat/completions', async (c) => {
    const authorization = c.req.header('authorization') ?? 'Bearer none';
    const requestBody = await readIncomingBody(c.env.incoming);
    const hold = await ledger?.reserve(authorization);
    if (hold instanceof Response) {
      return hold;
    }
    const answer = await upstream.request({
      path: '/v1/chat/completions',
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization,
      },
      body: requestBody,
    });
    const contentType = headerText(answer.headers['content-type'], 'application/json');
    if (contentType.startsWith('text/event-stream')) {
      const settleStream = async () => {
        if (hold !== undefined) {
          await ledger?.settle(hold, undefined);
        }
      };
      return new Response(relayBody(answer.body, settleStream), {
        status: answer.statusCode,
        headers: { 'content-type': contentType, 'cache-control': 'no-cache' },
      });
    }
    const answerBytes = new Uint8Array(await answer.body.arrayBuffer());
    if (hold !== undefined) {
      await ledger?.settle(hold, answerBytes);
    }
    return new Response(answerBytes, {
      status: answer.statusCode,
      headers: { 'content-type': contentType },
    });
  });
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: options.host, port: 0 }, (info) => {
      resolve({
        url: `http://${options.host}:${(info as AddressInfo).port}`,
        close: async () => {
          await new Promise<void>((closed) => server.close(() => closed()));
          await upstream.close();
        },
      });
    });
    server.once('error', reject);
  });
}

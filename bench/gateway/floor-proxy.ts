/**
 * The floor: the least a Hono + undici gateway can do per request. It reads the request body
 * straight from node's IncomingMessage, forwards it over a keep-alive undici Pool, buffers a JSON
 * answer and relays an SSE answer chunk by chunk. No auth, no billing, no parsing: whatever
 * tokenbank costs above this is what its features cost, so every column is also shown as a
 * ratio to this one.
 */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { type HttpBindings, serve } from '@hono/node-server';
import { Hono } from 'hono';
import { Pool } from 'undici';

export type FloorProxyOptions = { host: string; upstreamUrl: string };
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

/** A web stream that pulls undici's body one chunk at a time and frees it when cancelled. */
function relayBody(body: Readable): ReadableStream<Uint8Array> {
  const chunks = body[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next();
      if (next.done === true) {
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
  app.post('/v1/chat/completions', async (c) => {
    const requestBody = await readIncomingBody(c.env.incoming);
    const answer = await upstream.request({
      path: '/v1/chat/completions',
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: c.req.header('authorization') ?? 'Bearer none',
      },
      body: requestBody,
    });
    const contentType = headerText(answer.headers['content-type'], 'application/json');
    if (contentType.startsWith('text/event-stream')) {
      return new Response(relayBody(answer.body), {
        status: answer.statusCode,
        headers: { 'content-type': contentType, 'cache-control': 'no-cache' },
      });
    }
    const answerBytes = new Uint8Array(await answer.body.arrayBuffer());
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

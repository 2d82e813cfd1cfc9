/**
 * Two patches applied inside the Portkey process before its gateway is imported, so that it can
 * be measured at all, and measured fairly:
 *
 * - Its start script calls `serve({ fetch, port })` with no hostname, which listens on every
 *   interface. The bench must stay on loopback, so a listen without an address gets 127.0.0.1.
 * - On Node, its streaming answers fail with "TypeError: immutable" (Portkey-AI/gateway issues
 *   #1389 and #1550): @hono/node-server's light Response keeps `init.headers` by reference, so
 *   `new Response(stream, upstreamFetchResponse)` inherits the fetch response's immutable
 *   Headers, and Portkey then tries to change them. Event-stream fetch responses are therefore
 *   handed over with a fresh, mutable copy of their headers (the idea of the closed fix PR
 *   #1551). Other answers pass untouched, so the JSON measurements see Portkey as shipped.
 */
import { Server } from 'node:net';

const loopbackHost = '127.0.0.1';

function isPort(value: unknown): boolean {
  return typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value));
}

/** Makes every `listen` that names no address listen on 127.0.0.1 instead of everywhere. */
export function bindUnaddressedServersToLoopback(): void {
  const originalListen = Server.prototype.listen;
  function listenOnLoopback(this: Server, ...args: unknown[]): Server {
    const [first, second] = args;
    if (isPort(first)) {
      if (args.length >= 2 && second === undefined) {
        args[1] = loopbackHost;
      } else if (typeof second !== 'string') {
        args.splice(1, 0, loopbackHost);
      }
    } else if (typeof first === 'object' && first !== null && 'port' in first) {
      const host = (first as { host?: unknown }).host;
      if (host === undefined || host === null || host === '') {
        args[0] = { ...first, host: loopbackHost };
      }
    }
    return Reflect.apply(originalListen, this, args) as Server;
  }
  Server.prototype.listen = listenOnLoopback as typeof Server.prototype.listen;
}

/** Re-wraps event-stream fetch responses so their headers can still be changed. */
export function giveStreamedFetchResponsesMutableHeaders(): void {
  const originalFetch = globalThis.fetch;
  // Captured now, before @hono/node-server swaps in its own Response class.
  const PlatformResponse = globalThis.Response;
  globalThis.fetch = async (input, init) => {
    const response = await originalFetch(input, init);
    const contentType = response.headers.get('content-type') ?? '';
    if (!contentType.includes('text/event-stream')) {
      return response;
    }
    return new PlatformResponse(response.body, {
      status: response.status,
      statusText: response.statusText,
      headers: new Headers(response.headers),
    });
  };
}

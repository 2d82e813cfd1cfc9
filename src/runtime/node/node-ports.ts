/**
 * Small Node implementations of core ports: the client's request read straight from the Node
 * request and response (no WHATWG Request copy), SHA-256 from node:crypto, and DNS resolution for the SSRF policy.
 */
import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import type { ResolveHost } from '../../backends/upstream/backend-url-policy.ts';
import type { HonoEnv, RequestAccess } from '../../deps.ts';
import { portableRequestAccess, requestTooLarge } from '../../gateway/middleware/request-body.ts';
import type { AbortNotice } from '../../platform/abort-notice.ts';
import type { HashText } from '../../platform/identifiers.ts';

type NodeBindings = { incoming?: IncomingMessage; outgoing?: ServerResponse };

function nodeBindings(c: Context<HonoEnv>): NodeBindings {
  return (c.env as NodeBindings | undefined) ?? {};
}

function readNodeBody(incoming: IncomingMessage, bytesMax: number): Promise<Uint8Array> {
  const declaredBytes = Number(incoming.headers['content-length'] ?? 0);
  if (declaredBytes > bytesMax) {
    return Promise.reject(requestTooLarge(bytesMax));
  }
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let total = 0;
    incoming.on('data', (part: Buffer) => {
      total += part.byteLength;
      if (total > bytesMax) {
        incoming.pause();
        reject(requestTooLarge(bytesMax));
        return;
      }
      parts.push(part);
    });
    incoming.on('end', () =>
      resolve(parts.length === 1 && parts[0] ? parts[0] : Buffer.concat(parts)),
    );
    incoming.on('error', reject);
  });
}

/**
 * Aborts when the response closes before it finished: the client went away. Read from the
 * response itself, and told by one 'close' listener put on the first time something listens;
 * an AbortController per request cost more than the rest of this port.
 */
export class ResponseClientSignal implements AbortNotice {
  readonly #outgoing: ServerResponse;
  #listeners: Array<() => void> | undefined;

  constructor(outgoing: ServerResponse) {
    this.#outgoing = outgoing;
  }

  get aborted(): boolean {
    return this.#outgoing.closed && !this.#outgoing.writableFinished;
  }

  /** Every listener runs at most once: a response closes once. */
  addEventListener(_type: 'abort', listener: () => void, _options?: { once?: boolean }): void {
    if (this.#listeners === undefined) {
      this.#listeners = [];
      if (!this.#outgoing.closed) {
        this.#outgoing.once('close', () => this.#closed());
      }
    }
    this.#listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const index = this.#listeners?.indexOf(listener) ?? -1;
    if (index >= 0) {
      this.#listeners?.splice(index, 1);
    }
  }

  #closed(): void {
    const listeners = this.#listeners ?? [];
    this.#listeners = [];
    if (this.aborted) {
      for (const listener of listeners) {
        listener();
      }
    }
  }
}

/**
 * The request as @hono/node-server hands it over (`c.env.incoming`, `c.env.outgoing`), read
 * without building the WHATWG Request; not served by it (app.request in tests), the portable way.
 */
export const nodeRequestAccess: RequestAccess = {
  readBody: (c, bytesMax) => {
    const { incoming } = nodeBindings(c);
    return incoming
      ? readNodeBody(incoming, bytesMax)
      : portableRequestAccess.readBody(c, bytesMax);
  },
  header: (c, name) => {
    const { incoming } = nodeBindings(c);
    if (!incoming) {
      return portableRequestAccess.header(c, name);
    }
    const value = incoming.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  },
  clientSignal: (c) => {
    const { outgoing } = nodeBindings(c);
    return outgoing ? new ResponseClientSignal(outgoing) : portableRequestAccess.clientSignal(c);
  },
};

export const sha256Hex: HashText = async (text) => createHash('sha256').update(text).digest('hex');

export const resolveHostWithDns: ResolveHost = async (hostName) => {
  const addresses = await lookup(hostName, { all: true, verbatim: true });
  return addresses.map((entry) => entry.address);
};

/**
 * Small Node implementations of core ports: the request body read straight from the Node request
 * (no WHATWG Request copy), SHA-256 from node:crypto, and DNS resolution for the SSRF policy.
 */
import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import type { IncomingMessage } from 'node:http';
import type { ResolveHost } from '../../backends/backend-url-policy.ts';
import type { ReadRequestBody } from '../../deps.ts';
import { readPortableBody, requestTooLarge } from '../../gateway/request-body.ts';
import type { HashText } from '../../platform/identifiers.ts';

export const readNodeRequestBody: ReadRequestBody = (c, bytesMax) => {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming) {
    // Not served by @hono/node-server (e.g. app.request in tests): the portable path.
    return readPortableBody(c.req.raw, bytesMax);
  }
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
};

export const sha256Hex: HashText = async (text) => createHash('sha256').update(text).digest('hex');

export const resolveHostWithDns: ResolveHost = async (hostName) => {
  const addresses = await lookup(hostName, { all: true, verbatim: true });
  return addresses.map((entry) => entry.address);
};

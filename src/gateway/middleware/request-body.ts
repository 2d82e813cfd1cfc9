/**
 * Reading the client's request through the WHATWG Request: the portable RequestAccess for any
 * runtime. The Node runtime reads its own request object instead, which is cheaper.
 */
import type { RequestAccess } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';

export function requestTooLarge(bytesMax: number): GatewayError {
  return new GatewayError('request_too_large', `The request body exceeds ${bytesMax} bytes.`);
}

export async function readPortableBody(request: Request, bytesMax: number): Promise<Uint8Array> {
  const declaredBytes = Number(request.headers.get('content-length') ?? 0);
  if (declaredBytes > bytesMax) {
    throw requestTooLarge(bytesMax);
  }
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.byteLength > bytesMax) {
    throw requestTooLarge(bytesMax);
  }
  return bytes;
}

export const portableRequestAccess: RequestAccess = {
  readBody: (c, bytesMax) => readPortableBody(c.req.raw, bytesMax),
  header: (c, name) => c.req.header(name),
  clientSignal: (c) => c.req.raw.signal,
};

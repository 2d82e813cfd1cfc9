/**
 * Reading a request body within the size limit. This is the portable reader for any runtime;
 * the Node runtime reads straight from its request stream instead, which is cheaper.
 */
import { GatewayError } from '../errors.ts';

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

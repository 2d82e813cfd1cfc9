/**
 * Bytes as the WHATWG Response and Blob types take them: a Uint8Array over an ArrayBuffer, not
 * a SharedArrayBuffer. Drivers and request readers hand out `Uint8Array<ArrayBufferLike>` (Node's
 * Buffer is one) that is almost always over an ArrayBuffer already; only the rare other is copied.
 */
export function arrayBufferBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : new Uint8Array(bytes);
}

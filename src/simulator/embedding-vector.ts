/**
 * Deterministic fake embeddings: each vector is seeded from a hash of the model and the input, so
 * the same input always embeds to the same unit vector and tests can compare results exactly.
 */

import { createSeededRandom } from '../platform/random.ts';
import type { EmbeddingInput } from './inference-request.ts';

const utf8Encoder = new TextEncoder();

/** 32-bit FNV-1a: tiny and well spread, enough to seed a fake vector (not for anything secure). */
function hashBytes(bytes: Uint8Array, seedHash: number): number {
  let hash = seedHash;
  for (const byte of bytes) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

const fnvOffsetBasis = 0x811c9dc5;

function hashInput(model: string, input: EmbeddingInput): number {
  const modelHash = hashBytes(utf8Encoder.encode(`${model}\u0000`), fnvOffsetBasis);
  // Token ids hash through their decimal text so [1, 23] and [12, 3] differ.
  const inputText = typeof input === 'string' ? `s:${input}` : `t:${input.join(',')}`;
  return hashBytes(utf8Encoder.encode(inputText), modelHash);
}

/** A unit-length vector of `dimensions` floats, as OpenAI's embeddings are normalized. */
export function createEmbeddingVector(
  model: string,
  input: EmbeddingInput,
  dimensions: number,
): number[] {
  const random = createSeededRandom(hashInput(model, input));
  const vector = Array.from({ length: dimensions }, () => 2 * random() - 1);
  const length = Math.hypot(...vector);
  return length === 0 ? vector : vector.map((component) => component / length);
}

/** OpenAI's `encoding_format: "base64"`: little-endian float32s, base64-encoded. */
export function encodeEmbeddingBase64(vector: readonly number[]): string {
  const view = new DataView(new ArrayBuffer(vector.length * 4));
  vector.forEach((component, index) => {
    view.setFloat32(index * 4, component, true);
  });
  let binary = '';
  for (let offset = 0; offset < view.byteLength; offset++) {
    binary += String.fromCharCode(view.getUint8(offset));
  }
  return btoa(binary);
}

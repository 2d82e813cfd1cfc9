/**
 * The arithmetic of a token bucket (counter-store.ts), written once for every store that keeps
 * its buckets itself: this process's memory and the Durable Object of a rate key on Workers.
 * (Redis runs the same rule in its own Lua script, on the server.) A bucket nobody has touched
 * is full; a full bucket needs no state, so a store drops it and keeps only those owed tokens.
 */
import type { Bucket, TakeResult } from './counter-store.ts';

/** What a store keeps of a bucket owed tokens: its level at `atMs`. */
export type BucketState = { level: number; atMs: number };

/** The bucket's level at `atMs`, refilled evenly since its state was kept, never above capacity. */
export function bucketLevel(bucket: Bucket, state: BucketState | undefined, atMs: number): number {
  if (!state) {
    return bucket.capacity;
  }
  const refilled = (Math.max(0, atMs - state.atMs) * bucket.capacity) / bucket.refillPeriodMs;
  return Math.min(bucket.capacity, state.level + refilled);
}

/**
 * A change of the bucket at `atMs`: what the caller is answered, and the state to keep
 * (undefined: the bucket is full, keep nothing). A refused take changes nothing (`state` is the
 * one it was given).
 */
export type BucketChange = { result: TakeResult; state: BucketState | undefined };

function kept(bucket: Bucket, level: number, atMs: number): BucketState | undefined {
  return level >= bucket.capacity ? undefined : { level, atMs };
}

/** Takes `amount` if the bucket holds that much at `atMs`, else says when it will. */
export function takeFromBucket(
  bucket: Bucket,
  state: BucketState | undefined,
  amount: number,
  atMs: number,
): BucketChange {
  const level = bucketLevel(bucket, state, atMs);
  if (level >= amount) {
    return { result: { ok: true }, state: kept(bucket, level - amount, atMs) };
  }
  const refillPerMs = bucket.capacity / bucket.refillPeriodMs;
  return { result: { ok: false, retryAfterMs: Math.ceil((amount - level) / refillPerMs) }, state };
}

/** Puts `amount` back (negative: takes it without a check); the state to keep after it. */
export function giveToBucket(
  bucket: Bucket,
  state: BucketState | undefined,
  amount: number,
  atMs: number,
): BucketState | undefined {
  return kept(bucket, bucketLevel(bucket, state, atMs) + amount, atMs);
}

import { describe, expect, it } from 'vitest';
import type { Bucket } from './counter-store.ts';
import { bucketLevel, giveToBucket, takeFromBucket } from './token-bucket.ts';

const bucket: Bucket = { key: 'rpm:key_a', capacity: 60, refillPeriodMs: 60_000 };

describe('token bucket arithmetic', () => {
  it('is full with no state and keeps none once full again', () => {
    expect(bucketLevel(bucket, undefined, 0)).toBe(60);
    const taken = takeFromBucket(bucket, undefined, 1, 0);
    expect(taken).toEqual({ result: { ok: true }, state: { level: 59, atMs: 0 } });
    // One a second refills the one taken.
    expect(takeFromBucket(bucket, taken.state, 0, 1000).state).toBeUndefined();
  });

  it('refuses a take it cannot cover whole, keeping the state it was given', () => {
    const state = { level: 0.5, atMs: 0 };
    expect(takeFromBucket(bucket, state, 2, 0)).toEqual({
      result: { ok: false, retryAfterMs: 1500 },
      state,
    });
  });

  it('gives back never above capacity, and lets a negative give overdraw', () => {
    expect(giveToBucket(bucket, { level: 10, atMs: 0 }, 100, 0)).toBeUndefined();
    expect(giveToBucket(bucket, undefined, -70, 0)).toEqual({ level: -10, atMs: 0 });
    expect(bucketLevel(bucket, { level: -10, atMs: 0 }, 30_000)).toBe(20);
  });
});

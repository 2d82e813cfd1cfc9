/**
 * The CounterStore port: the hot shared counters behind per-key rate limits. Rate windows are
 * token buckets (a bucket of `capacity` that refills evenly over `refillPeriodMs`, so `rpm` 60
 * allows a burst of 60 and then one a second), and concurrency is a bounded count per key. Every
 * take is atomic: a burst of simultaneous requests can never take more than the bucket holds,
 * because the check and the take are one step, never a read followed by a write.
 *
 * This file also holds the in-memory implementation, exact for one gateway process; several
 * replicas share one Redis implementation of the same port (one Lua script per operation), and
 * Workers isolates one Durable Object per rate key (runtime/workers/rate-limit-object.ts). The
 * bucket arithmetic is token-bucket.ts.
 *
 * `atMs` is the caller's clock. A store shared by several processes may keep time by one clock of
 * its own instead (Redis uses its server's TIME), because replicas' clocks drift apart and a
 * bucket refilled by whichever clock is ahead would admit more than its rate.
 */
import { type BucketState, giveToBucket, takeFromBucket } from './token-bucket.ts';

/** A token bucket: full when first seen, refilled evenly, never above its capacity. */
export type Bucket = {
  key: string;
  capacity: number;
  /** Time for an empty bucket to fill completely: a minute for per-minute limits. */
  refillPeriodMs: number;
};

export type TakeResult = { ok: true } | { ok: false; retryAfterMs: number };

export type CounterStore = {
  /** Takes `amount` if the bucket holds that much now, else takes nothing and says when it will. */
  take(bucket: Bucket, amount: number, atMs: number): Promise<TakeResult>;
  /**
   * Puts `amount` back (a reservation larger than what was used); a negative amount takes more
   * without a check, possibly below zero (usage above the reservation), which later takes wait out.
   */
  give(bucket: Bucket, amount: number, atMs: number): Promise<void>;
  /** One more holder of `key` if fewer than `countMax` hold it now. */
  acquire(key: string, countMax: number): Promise<boolean>;
  /** One holder of `key` fewer; never below zero. */
  release(key: string): Promise<void>;
};

/** A stream slot outlives its request by at most this before it counts as abandoned. */
const slotHoldGraceMs = 60_000;

/**
 * How long a shared store keeps a stream slot whose release never came (its process or isolate
 * died): the longest a request may run, and a grace.
 */
export function slotHoldMs(requestTimeoutS: number): number {
  return requestTimeoutS * 1000 + slotHoldGraceMs;
}

/**
 * Exact counters in this process's memory. `entriesMax` bounds the buckets kept: past it, buckets
 * that have refilled completely (the same as never seen) are dropped.
 */
export function createMemoryCounterStore(entriesMax: number): CounterStore {
  const buckets = new Map<string, BucketState>();
  const holders = new Map<string, number>();

  const store = (bucket: Bucket, state: BucketState | undefined) => {
    if (!state) {
      buckets.delete(bucket.key);
      return;
    }
    buckets.set(bucket.key, state);
    // One sweep per refill period at most, so a map of buckets that cannot be dropped yet is not
    // walked on every take.
    if (buckets.size > entriesMax && state.atMs - lastSweepAtMs >= refillPeriodMsMax) {
      lastSweepAtMs = state.atMs;
      dropFullBuckets(state.atMs);
    }
  };

  /** A bucket is full once its deficit has refilled; the longest refill period seen is a bound. */
  let refillPeriodMsMax = 0;
  let lastSweepAtMs = Number.NEGATIVE_INFINITY;
  const dropFullBuckets = (atMs: number) => {
    for (const [key, state] of buckets) {
      if (atMs - state.atMs >= refillPeriodMsMax && state.level >= 0) {
        buckets.delete(key);
      }
    }
  };

  return {
    async take(bucket, amount, atMs) {
      refillPeriodMsMax = Math.max(refillPeriodMsMax, bucket.refillPeriodMs);
      const change = takeFromBucket(bucket, buckets.get(bucket.key), amount, atMs);
      if (change.result.ok) {
        store(bucket, change.state);
      }
      return change.result;
    },
    async give(bucket, amount, atMs) {
      refillPeriodMsMax = Math.max(refillPeriodMsMax, bucket.refillPeriodMs);
      store(bucket, giveToBucket(bucket, buckets.get(bucket.key), amount, atMs));
    },
    async acquire(key, countMax) {
      const count = holders.get(key) ?? 0;
      if (count >= countMax) {
        return false;
      }
      holders.set(key, count + 1);
      return true;
    },
    async release(key) {
      const count = holders.get(key) ?? 0;
      if (count <= 1) {
        holders.delete(key);
      } else {
        holders.set(key, count - 1);
      }
    },
  };
}

/**
 * The CounterStore of several replicas, in Redis: one Lua script per operation, so each check and
 * its update are one atomic step on the server whatever the number of replicas.
 *
 * Buckets keep time by the Redis server's clock (TIME), not the callers' `atMs`: replicas' clocks
 * drift apart, and with the callers' times a bucket touched alternately by a replica ahead and one
 * behind would be refilled for the same span twice, admitting more than its rate without bound.
 * One clock makes the refill exact. A bucket is a hash {level, at} that expires when it would be
 * full again, so Redis holds only the buckets still owed tokens.
 *
 * Stream slots are a sorted set per key of holders scored by their expiry: a replica that dies
 * holding slots loses them when their TTL (the longest a request may run) passes, without anyone
 * cleaning up. Each replica remembers its own holders to remove one per release.
 */
import type { Redis } from 'ioredis';
import { assert } from '../../../assert.ts';
import type { CounterStore } from '../../../platform/shared-state/counter-store.ts';
import { defineRedisScript, integerReply } from './redis-connection.ts';

/** Server time in milliseconds, as a float; TIME is allowed in scripts from Redis 5 on. */
const serverNowMs = `
local time = redis.call('TIME')
local nowMs = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
`;

/**
 * KEYS[1] the bucket; ARGV capacity, refill period (ms), amount, 'take' or 'give'.
 * Returns 0 when taken or given, else the milliseconds until the amount fits (at least 1).
 */
const bucketScript = defineRedisScript(`${serverNowMs}
local capacity = tonumber(ARGV[1])
local refillPeriodMs = tonumber(ARGV[2])
local amount = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'level', 'at')
local level = capacity
if state[1] then
  local elapsedMs = math.max(0, nowMs - tonumber(state[2]))
  level = math.min(capacity, tonumber(state[1]) + elapsedMs * capacity / refillPeriodMs)
end
if ARGV[4] == 'give' then
  level = level + amount
elseif level < amount then
  return math.max(1, math.ceil((amount - level) * refillPeriodMs / capacity))
else
  level = level - amount
end
if level >= capacity then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'level', string.format('%.17g', level), 'at', string.format('%.17g', nowMs))
  redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - level) * refillPeriodMs / capacity) + 1000)
end
return 0
`);

/** KEYS[1] the holders; ARGV the most holders, the new holder, its TTL (ms). Returns 1 or 0. */
const acquireScript = defineRedisScript(`${serverNowMs}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', nowMs)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], nowMs + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
`);

/** Releases that failed, retried on the next call that works; past this they wait for the TTL. */
const pendingReleasesMax = 10_000;

export type RedisCounterStoreOptions = {
  client: Redis;
  /** Starts every key: `tokenbank:` makes `tokenbank:bucket:rpm:key_…`. */
  prefix: string;
  /** This replica, as its holders are named. */
  instanceId: string;
  /** A stream slot not released by then is taken for abandoned: the longest a request may run. */
  holderTtlMs: number;
};

export function createRedisCounterStore(options: RedisCounterStoreOptions): CounterStore {
  const { client, prefix, instanceId, holderTtlMs } = options;
  assert(holderTtlMs > 0, 'holders need a positive TTL');
  /** This replica's holders per key, in Redis now. */
  const holders = new Map<string, string[]>();
  const pendingReleases: { key: string; holder: string }[] = [];
  let holderSequence = 0;
  let flushing = false;

  const bucketKey = (key: string) => `${prefix}bucket:${key}`;
  const holdersKey = (key: string) => `${prefix}holders:${key}`;

  const runBucket = async (
    bucket: { key: string; capacity: number; refillPeriodMs: number },
    amount: number,
    mode: 'take' | 'give',
  ): Promise<number> => {
    assert(bucket.capacity > 0, 'a bucket has a positive capacity');
    assert(bucket.refillPeriodMs > 0, 'a bucket refills over a positive period');
    assert(Number.isFinite(amount), 'amounts are finite');
    const reply = await bucketScript.run(
      client,
      [bucketKey(bucket.key)],
      [bucket.capacity, bucket.refillPeriodMs, amount, mode],
    );
    flushPendingReleases();
    return integerReply(reply, 'bucket script');
  };

  /** Retries failed releases in the background once Redis answers again; one round at a time. */
  function flushPendingReleases(): void {
    if (flushing || pendingReleases.length === 0) {
      return;
    }
    flushing = true;
    const batch = pendingReleases.splice(0, pendingReleases.length);
    const pipeline = client.pipeline();
    for (const { key, holder } of batch) {
      pipeline.zrem(holdersKey(key), holder);
    }
    pipeline
      .exec()
      .catch(() => {
        // Still down: their TTL will free them.
      })
      .finally(() => {
        flushing = false;
      });
  }

  return {
    async take(bucket, amount) {
      const retryAfterMs = await runBucket(bucket, amount, 'take');
      return retryAfterMs === 0 ? { ok: true } : { ok: false, retryAfterMs };
    },
    async give(bucket, amount) {
      await runBucket(bucket, amount, 'give');
    },
    async acquire(key, countMax) {
      holderSequence += 1;
      const holder = `${instanceId}:${holderSequence}`;
      const reply = await acquireScript.run(
        client,
        [holdersKey(key)],
        [countMax, holder, holderTtlMs],
      );
      flushPendingReleases();
      if (integerReply(reply, 'acquire script') === 0) {
        return false;
      }
      const list = holders.get(key);
      if (list === undefined) {
        holders.set(key, [holder]);
      } else {
        list.push(holder);
      }
      return true;
    },
    async release(key) {
      const list = holders.get(key);
      const holder = list?.pop();
      if (list === undefined || holder === undefined) {
        return;
      }
      if (list.length === 0) {
        holders.delete(key);
      }
      try {
        await client.zrem(holdersKey(key), holder);
      } catch (error) {
        if (pendingReleases.length < pendingReleasesMax) {
          pendingReleases.push({ key, holder });
        }
        throw error;
      }
      flushPendingReleases();
    },
  };
}

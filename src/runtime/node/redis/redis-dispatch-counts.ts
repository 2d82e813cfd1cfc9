/**
 * The DispatchCountExchange in Redis: each replica keeps a hash of its requests in flight per
 * backend (`<prefix>inflight:<replica>`) and its name in a sorted set of live replicas scored by
 * the server time of its last publish (`<prefix>replicas`). One Lua script per round publishes
 * this replica's hash and returns the others' counts summed per backend, so a round costs one
 * round trip however many replicas and backends there are. A replica that stops publishing (it
 * died, or lost Redis) drops out after `staleMs`: its hash expires and its name is pruned.
 *
 * The script reads other replicas' keys it was not given in KEYS, which a Redis Cluster would
 * refuse; tokenbank expects one Redis (or a primary with replicas under Sentinel).
 */
import type { Redis } from 'ioredis';
import type {
  DispatchCountExchange,
  PeerDispatchCounts,
} from '../../../platform/shared-state/dispatch-count-exchange.ts';
import { defineRedisScript } from './redis-connection.ts';

/** Field and value pairs per HSET call inside the script: Lua's unpack has a stack limit. */
const pairsPerCall = 200;

/**
 * KEYS[1] the live replicas, KEYS[2] this replica's hash; ARGV this replica, staleMs, the prefix of
 * replica hashes, then backend and count pairs. Returns {peer count, backend, count, ...}.
 */
const exchangeScript = defineRedisScript(`
local time = redis.call('TIME')
local nowMs = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local staleMs = tonumber(ARGV[2])
redis.call('DEL', KEYS[2])
for first = 4, #ARGV, ${pairsPerCall * 2} do
  redis.call('HSET', KEYS[2], unpack(ARGV, first, math.min(#ARGV, first + ${pairsPerCall * 2 - 1})))
end
if #ARGV > 3 then
  redis.call('PEXPIRE', KEYS[2], staleMs)
end
redis.call('ZADD', KEYS[1], nowMs, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', nowMs - staleMs)
redis.call('PEXPIRE', KEYS[1], staleMs * 10)
local sums = {}
local order = {}
local peerCount = 0
for _, replica in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if replica ~= ARGV[1] then
    peerCount = peerCount + 1
    local fields = redis.call('HGETALL', ARGV[3] .. replica)
    for index = 1, #fields, 2 do
      local backend = fields[index]
      if sums[backend] == nil then
        sums[backend] = 0
        order[#order + 1] = backend
      end
      sums[backend] = sums[backend] + tonumber(fields[index + 1])
    end
  end
end
local reply = { peerCount }
for _, backend in ipairs(order) do
  reply[#reply + 1] = backend
  reply[#reply + 1] = sums[backend]
end
return reply
`);

export type RedisDispatchCountsOptions = {
  client: Redis;
  prefix: string;
  instanceId: string;
  /** A replica silent this long counts for nothing. */
  staleMs: number;
};

export type RedisDispatchCounts = DispatchCountExchange & {
  /** Removes this replica's counts at once (a clean shutdown), rather than after staleMs. */
  leave(): Promise<void>;
};

export function createRedisDispatchCounts(
  options: RedisDispatchCountsOptions,
): RedisDispatchCounts {
  const { client, prefix, instanceId, staleMs } = options;
  const replicasKey = `${prefix}replicas`;
  const hashPrefix = `${prefix}inflight:`;
  return {
    async exchange(own) {
      const pairs: (string | number)[] = [];
      for (const [backendId, count] of own) {
        pairs.push(backendId, count);
      }
      const reply = await exchangeScript.run(
        client,
        [replicasKey, `${hashPrefix}${instanceId}`],
        [instanceId, staleMs, hashPrefix, ...pairs],
      );
      return parseExchangeReply(reply);
    },
    async leave() {
      await client.multi().zrem(replicasKey, instanceId).del(`${hashPrefix}${instanceId}`).exec();
    },
  };
}

function parseExchangeReply(reply: unknown): PeerDispatchCounts {
  if (!Array.isArray(reply) || typeof reply[0] !== 'number') {
    throw new Error(`dispatch count exchange: unexpected reply ${JSON.stringify(reply)}`);
  }
  const inFlightByBackend = new Map<string, number>();
  for (let index = 1; index + 1 < reply.length; index += 2) {
    const backendId: unknown = reply[index];
    const count: unknown = reply[index + 1];
    if (typeof backendId === 'string' && typeof count === 'number' && count > 0) {
      inFlightByBackend.set(backendId, count);
    }
  }
  return { replicaCount: reply[0], inFlightByBackend };
}

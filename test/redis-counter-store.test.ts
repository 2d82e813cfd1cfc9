/**
 * The Redis CounterStore against a real redis-server, used by several clients at once as several
 * replicas would: takes are atomic under concurrency (never more than the bucket holds), buckets
 * refill by the server's clock, gives never overfill, stream slots are bounded across clients and
 * a dead replica's slots expire with their TTL. Then the degrading store: Redis stopped, every
 * call is served locally (logged once, counted); Redis back, the shared counters are used again.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limitsSchema } from '../src/config.ts';
import { systemClock } from '../src/platform/clock.ts';
import type { LogLevel } from '../src/platform/logger.ts';
import { silentLogger } from '../src/platform/logger.ts';
import {
  type Bucket,
  createMemoryCounterStore,
} from '../src/platform/shared-state/counter-store.ts';
import { createDegradingCounterStore } from '../src/platform/shared-state/degrading-counter-store.ts';
import { createSharedStateHealth } from '../src/platform/shared-state/shared-state-health.ts';
import { openRedisConnection } from '../src/runtime/node/redis/redis-connection.ts';
import { createRedisCounterStore } from '../src/runtime/node/redis/redis-counter-store.ts';
import { pollUntil } from './support/poll-until.ts';
import { type RedisServerProcess, startRedisServer } from './support/redis-server-process.ts';

const settings = {
  ...limitsSchema.parse({}),
  redisConnectTimeoutMs: 500,
  redisCommandTimeoutMs: 500,
  redisReconnectDelayMsMax: 100,
};

let redis: RedisServerProcess;
const clients: Redis[] = [];
let prefixSequence = 0;

function client(): Redis {
  const opened = openRedisConnection({
    url: redis.url,
    role: 'commands',
    name: `test-${clients.length}`,
    settings,
    logger: silentLogger,
  });
  clients.push(opened);
  return opened;
}

/** A prefix of its own per test, so tests share one server and nothing else. */
function isolatedPrefix(): string {
  prefixSequence += 1;
  return `test${prefixSequence}:`;
}

/** `count` stores on `count` connections, like one per replica, sharing one prefix. */
async function replicaStores(count: number, holderTtlMs = 60_000) {
  const prefix = isolatedPrefix();
  const stores = [];
  for (let index = 0; index < count; index += 1) {
    const connection = client();
    await pollUntil(() => connection.status === 'ready', 'a Redis connection');
    stores.push(
      createRedisCounterStore({
        client: connection,
        prefix,
        instanceId: `gw_${index}`,
        holderTtlMs,
      }),
    );
  }
  return { prefix, stores };
}

function perPeriod(capacity: number, refillPeriodMs: number, key = 'rpm:key_a'): Bucket {
  return { key, capacity, refillPeriodMs };
}

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  for (const opened of clients) {
    opened.disconnect();
  }
  await redis?.stop();
});

describe('Redis CounterStore', () => {
  it('lets simultaneous takes from three replicas take exactly the capacity', async () => {
    const { stores } = await replicaStores(3);
    const bucket = perPeriod(50, 3_600_000);
    const results = await Promise.all(
      stores.flatMap((store) => Array.from({ length: 40 }, () => store.take(bucket, 1, 0))),
    );
    expect(results.filter((result) => result.ok)).toHaveLength(50);
    // One token an hour / 50 = 72 s away, give or take the time the test took.
    const refused = results.find((result) => !result.ok);
    expect(refused?.ok === false && refused.retryAfterMs).toBeGreaterThan(71_000);
    expect(refused?.ok === false && refused.retryAfterMs).toBeLessThanOrEqual(72_000);
  });

  it('never takes part of an amount, and refills by the server clock', async () => {
    const { stores } = await replicaStores(2);
    const [first, second] = stores;
    if (first === undefined || second === undefined) {
      throw new Error('two stores expected');
    }
    // 10 tokens per 500 ms: one every 50 ms.
    const bucket = perPeriod(10, 500, 'tpm:key_b');
    expect(await first.take(bucket, 7, 0)).toEqual({ ok: true });
    const refused = await second.take(bucket, 5, 0);
    expect(refused.ok).toBe(false);
    expect(await second.take(bucket, 3, 0)).toEqual({ ok: true });
    // Whatever time the callers pass, the server's clock refills it.
    await pollUntil(
      async () => (await first.take(bucket, 2, 0)).ok,
      'two tokens refilled in about 100 ms',
      2_000,
    );
  });

  it('takes back unused reservations, never above capacity, and lets usage overdraw', async () => {
    const { stores, prefix } = await replicaStores(1);
    const [store] = stores;
    if (store === undefined) {
      throw new Error('a store expected');
    }
    const bucket = perPeriod(100, 3_600_000, 'tpm:key_c');
    await store.take(bucket, 100, 0);
    await store.give(bucket, 500, 0);
    // Full again: nothing is kept for it.
    expect(await clients[clients.length - 1]?.exists(`${prefix}bucket:tpm:key_c`)).toBe(0);
    expect(await store.take(bucket, 100, 0)).toEqual({ ok: true });
    expect(await store.take(bucket, 1, 0)).toMatchObject({ ok: false });
    await store.give(bucket, -50, 0);
    // 150 short of 100 tokens: 1.5 hours at 100 an hour.
    const refused = await store.take(bucket, 100, 0);
    expect(refused.ok === false && refused.retryAfterMs).toBeGreaterThan(5_390_000);
  });

  it('bounds stream slots across replicas and frees a released one for anyone', async () => {
    const { stores } = await replicaStores(3);
    const acquired = await Promise.all(
      stores.flatMap((store) =>
        Array.from({ length: 10 }, () => store.acquire('streams:key_d', 5)),
      ),
    );
    expect(acquired.filter(Boolean)).toHaveLength(5);
    const holder = stores.find((_, index) =>
      acquired.slice(index * 10, index * 10 + 10).some(Boolean),
    );
    await holder?.release('streams:key_d');
    const others = stores.filter((store) => store !== holder);
    expect(await others[0]?.acquire('streams:key_d', 5)).toBe(true);
    expect(await others[1]?.acquire('streams:key_d', 5)).toBe(false);
    // A release by a replica that holds nothing there frees nothing.
    const empty = await replicaStores(1);
    await empty.stores[0]?.release('streams:key_d');
  });

  it('lets the slots of a replica that died expire with their TTL', async () => {
    const { stores } = await replicaStores(2, 300);
    const [dead, alive] = stores;
    if (dead === undefined || alive === undefined) {
      throw new Error('two stores expected');
    }
    expect(await dead.acquire('streams:key_e', 2)).toBe(true);
    expect(await dead.acquire('streams:key_e', 2)).toBe(true);
    expect(await alive.acquire('streams:key_e', 2)).toBe(false);
    // The dead replica never releases; its holders lapse after 300 ms.
    await pollUntil(
      () => alive.acquire('streams:key_e', 2),
      'expired holders to free a slot',
      3_000,
    );
  });
});

describe('degrading CounterStore over Redis', () => {
  it('serves locally while Redis is down, says so once, and shares again once it is back', async () => {
    const connection = client();
    await pollUntil(() => connection.status === 'ready', 'a Redis connection');
    const events: { level: LogLevel; event: string }[] = [];
    const health = createSharedStateHealth({
      logger: { log: (level, event) => events.push({ level, event }) },
      retryMs: 50,
    });
    const prefix = isolatedPrefix();
    const store = createDegradingCounterStore({
      shared: createRedisCounterStore({
        client: connection,
        prefix,
        instanceId: 'gw_a',
        holderTtlMs: 60_000,
      }),
      local: createMemoryCounterStore(100),
      health,
      clock: systemClock,
    });
    const bucket = perPeriod(1_000, 3_600_000);
    expect(await store.take(bucket, 1, 0)).toEqual({ ok: true });
    expect(health.view('counters').degraded).toBe(false);

    await redis.stop();
    for (let count = 0; count < 20; count += 1) {
      expect(await store.take(bucket, 1, Date.now())).toEqual({ ok: true });
    }
    expect(await store.acquire('streams:key_f', 1)).toBe(true);
    expect(health.view('counters')).toMatchObject({ degraded: true });
    expect(health.view('counters').fallbackCount).toBeGreaterThanOrEqual(21);
    expect(events.filter((event) => event.event === 'shared_state_degraded')).toHaveLength(1);

    await redis.start();
    await pollUntil(
      async () => {
        await store.take(bucket, 1, Date.now());
        return !health.view('counters').degraded;
      },
      'the shared counters to be used again',
      10_000,
    );
    // Redis came back empty; the bucket it holds now is the shared one again.
    expect(await connection.exists(`${prefix}bucket:rpm:key_a`)).toBe(1);
    expect(events.at(-1)).toEqual({ level: 'info', event: 'shared_state_restored' });
    // The slot taken locally during the outage goes back locally.
    await store.release('streams:key_f');
    expect(await store.acquire('streams:key_f', 1)).toBe(true);
  });
});

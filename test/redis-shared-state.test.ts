/**
 * The rest of what replicas share in Redis, against a real redis-server: the exchange of requests
 * in flight per backend (each replica sees the others' sums, never its own, and a replica that
 * leaves or goes silent drops out), the catalog change bus (a change reaches the other replicas
 * within a second, never echoes back to its sender, junk on the channel is ignored, and a
 * reconnection asks for a resync) and the reference locks (one holder at a time, and a lease
 * whose lock expired cannot free its successor's).
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limitsSchema, parseConfig } from '../src/config.ts';
import { systemClock } from '../src/platform/clock.ts';
import { type Logger, type LogLevel, silentLogger } from '../src/platform/logger.ts';
import type { CatalogChange } from '../src/platform/shared-state/catalog-change-bus.ts';
import { createSharedStateHealth } from '../src/platform/shared-state/shared-state-health.ts';
import { createRedisCatalogChanges } from '../src/runtime/node/redis/redis-catalog-changes.ts';
import { openRedisConnection, type RedisRole } from '../src/runtime/node/redis/redis-connection.ts';
import { createRedisDispatchCounts } from '../src/runtime/node/redis/redis-dispatch-counts.ts';
import { createRedisIdempotencyLocks } from '../src/runtime/node/redis/redis-idempotency-locks.ts';
import { openSharedState } from '../src/runtime/node/redis/redis-shared-state.ts';
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

async function connection(role: RedisRole = 'commands'): Promise<Redis> {
  const opened = openRedisConnection({
    url: redis.url,
    role,
    name: `test-${clients.length}`,
    settings,
    logger: silentLogger,
  });
  clients.push(opened);
  await pollUntil(() => opened.status === 'ready', 'a Redis connection');
  return opened;
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

describe('Redis dispatch count exchange', () => {
  it("shows each replica the others' requests in flight per backend, summed", async () => {
    const options = { prefix: 'counts1:', staleMs: 1_000 };
    const [a, b, c] = await Promise.all([
      connection().then((client) =>
        createRedisDispatchCounts({ ...options, client, instanceId: 'gw_a' }),
      ),
      connection().then((client) =>
        createRedisDispatchCounts({ ...options, client, instanceId: 'gw_b' }),
      ),
      connection().then((client) =>
        createRedisDispatchCounts({ ...options, client, instanceId: 'gw_c' }),
      ),
    ]);
    await a.exchange(new Map([['bkd_1', 3]]));
    await b.exchange(
      new Map([
        ['bkd_1', 2],
        ['bkd_2', 1],
      ]),
    );
    const seenByC = await c.exchange(new Map());
    expect(seenByC.replicaCount).toBe(2);
    expect(seenByC.inFlightByBackend).toEqual(
      new Map([
        ['bkd_1', 5],
        ['bkd_2', 1],
      ]),
    );
    const seenByA = await a.exchange(new Map([['bkd_1', 4]]));
    expect(seenByA.inFlightByBackend).toEqual(
      new Map([
        ['bkd_1', 2],
        ['bkd_2', 1],
      ]),
    );

    // A clean leave takes effect at once.
    await b.leave();
    expect((await c.exchange(new Map())).inFlightByBackend).toEqual(new Map([['bkd_1', 4]]));
  });

  it('forgets a replica that stopped publishing', async () => {
    const options = { prefix: 'counts2:', staleMs: 200 };
    const silent = createRedisDispatchCounts({
      ...options,
      client: await connection(),
      instanceId: 'gw_a',
    });
    const live = createRedisDispatchCounts({
      ...options,
      client: await connection(),
      instanceId: 'gw_b',
    });
    await silent.exchange(new Map([['bkd_1', 7]]));
    expect((await live.exchange(new Map())).inFlightByBackend.get('bkd_1')).toBe(7);
    await pollUntil(
      async () => (await live.exchange(new Map())).replicaCount === 0,
      'the silent replica to drop out',
      3_000,
    );
    expect((await live.exchange(new Map())).inFlightByBackend.size).toBe(0);
  });

  it('carries many backends in one round', async () => {
    const options = { prefix: 'counts3:', staleMs: 1_000 };
    const a = createRedisDispatchCounts({
      ...options,
      client: await connection(),
      instanceId: 'gw_a',
    });
    const b = createRedisDispatchCounts({
      ...options,
      client: await connection(),
      instanceId: 'gw_b',
    });
    const many = new Map(Array.from({ length: 1_500 }, (_, index) => [`bkd_${index}`, index + 1]));
    await a.exchange(many);
    const seen = await b.exchange(new Map());
    expect(seen.inFlightByBackend.size).toBe(1_500);
    expect(seen.inFlightByBackend.get('bkd_1499')).toBe(1_500);
  });
});

describe('Redis catalog change bus', () => {
  async function replica(instanceId: string) {
    const health = createSharedStateHealth({ logger: silentLogger, retryMs: 100 });
    const bus = createRedisCatalogChanges({
      publisher: await connection(),
      subscriber: await connection('subscriber'),
      prefix: 'bus:',
      instanceId,
      health,
      logger: silentLogger,
    });
    const received: CatalogChange[] = [];
    let resyncCount = 0;
    bus.subscribe({
      change: (change) => received.push(change),
      resync: () => {
        resyncCount += 1;
      },
    });
    return { bus, received, resyncs: () => resyncCount, health };
  }

  it('brings a change to every other replica within a second, and not back to its sender', async () => {
    const [a, b, c] = await Promise.all([replica('gw_a'), replica('gw_b'), replica('gw_c')]);
    // Subscribed: each became ready once and resynchronised.
    await pollUntil(() => [a, b, c].every((each) => each.resyncs() >= 1), 'the subscriptions');
    const sentAtMs = Date.now();
    await a.bus.publish({ kind: 'key', keyId: 'key_1' });
    await pollUntil(
      () => b.received.length === 1 && c.received.length === 1,
      'the change on the other replicas',
      1_000,
      5,
    );
    expect(Date.now() - sentAtMs).toBeLessThan(1_000);
    expect(b.received).toEqual([{ kind: 'key', keyId: 'key_1' }]);
    expect(a.received).toEqual([]);

    // Junk on the channel is dropped, the next real change still arrives.
    const raw = await connection();
    await raw.publish('bus:catalog', '{"origin":"x","change":{"kind":"drop_tables"}}');
    await raw.publish('bus:catalog', 'not json');
    await b.bus.publish({ kind: 'prices' });
    await pollUntil(() => c.received.length === 2, 'the second change', 1_000, 5);
    expect(c.received[1]).toEqual({ kind: 'prices' });
  });

  it('asks for a resync when it reconnects after Redis was down, and hears changes again', async () => {
    const [a, b] = await Promise.all([replica('gw_d'), replica('gw_e')]);
    await pollUntil(() => a.resyncs() >= 1 && b.resyncs() >= 1, 'the subscriptions');
    const resyncsBefore = b.resyncs();
    await redis.stop();
    await pollUntil(() => b.health.view('catalog_changes').degraded, 'the outage to be noticed');
    await redis.start();
    await pollUntil(() => b.resyncs() > resyncsBefore, 'a resync after reconnecting', 10_000);
    expect(b.health.view('catalog_changes').degraded).toBe(false);
    // The publisher's own connection reconnects too.
    await pollUntil(
      async () => {
        await a.bus.publish({ kind: 'backend', backendId: 'bkd_9' }).catch(() => {});
        return b.received.length > 0;
      },
      'a change after the reconnection',
      10_000,
      100,
    );
    expect(b.received.at(-1)).toEqual({ kind: 'backend', backendId: 'bkd_9' });
  });
});

describe('Redis reference locks', () => {
  it('lets one holder at a time hold a reference, across connections', async () => {
    const [first, second] = [
      createRedisIdempotencyLocks({ client: await connection(), prefix: 'locks:' }),
      createRedisIdempotencyLocks({ client: await connection(), prefix: 'locks:' }),
    ];
    const leases = await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        (index % 2 === 0 ? first : second).acquire('topup:ten_a:ref-1', 5_000),
      ),
    );
    const held = leases.filter((lease) => lease !== undefined);
    expect(held).toHaveLength(1);
    expect(await second.acquire('topup:ten_a:ref-2', 5_000)).toBeDefined();
    await held[0]?.release();
    expect(await second.acquire('topup:ten_a:ref-1', 5_000)).toBeDefined();
  });

  it("never lets a lease whose lock expired free the next holder's", async () => {
    const locks = createRedisIdempotencyLocks({ client: await connection(), prefix: 'locks:' });
    const expired = await locks.acquire('grant:ten_a:ref-3', 100);
    expect(expired).toBeDefined();
    const next = await pollUntil(
      () => locks.acquire('grant:ten_a:ref-3', 5_000),
      'the first lock to expire',
      3_000,
    );
    await expired?.release();
    expect(await locks.acquire('grant:ten_a:ref-3', 5_000)).toBeUndefined();
    await next.release();
    expect(await locks.acquire('grant:ten_a:ref-3', 5_000)).toBeDefined();
  });
});

describe('a replica closing its shared state', () => {
  it('logs the planned close at info, never as a lost connection or degraded state', async () => {
    const events: { level: LogLevel; event: string }[] = [];
    const logger: Logger = { log: (level, event) => events.push({ level, event }) };
    const parsed = parseConfig({}, { redisUrl: redis.url, redisPrefix: 'closing:' });
    if (!parsed.ok) {
      throw new Error(parsed.message);
    }
    const { sharedState } = openSharedState({
      config: parsed.config,
      instanceId: 'gw_closing',
      clock: systemClock,
      logger,
    });
    sharedState.catalogChanges.subscribe({ change: () => {}, resync: () => {} });
    const count = (event: string) => events.filter((each) => each.event === event).length;
    await pollUntil(() => count('redis_connected') === 2, 'both connections ready');
    await sharedState.close();
    await pollUntil(() => count('redis_connection_closed') === 2, 'both connections closed');
    expect(events.filter((each) => each.level !== 'info')).toEqual([]);
    expect(sharedState.health.view('catalog_changes').degraded).toBe(false);
  });
});

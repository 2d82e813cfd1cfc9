/**
 * The live replica count against a real redis-server (issue 17): each replica's round of the
 * dispatch-count exchange says it is alive, and the pool, which the router reads, counts the
 * replicas heard from within `dispatchCountsStaleMs`. A replica that closes cleanly leaves at
 * once, one that goes silent drops out after the stale time, and while Redis is down the count
 * stays as last heard (the others are most likely still there). Without Redis a gateway is alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendPool } from '../src/backends/backend-pool.ts';
import { shareDispatchCounts } from '../src/backends/dispatch-count-exchange.ts';
import { backendRecord, poolWithBackends } from '../src/backends/test-backend-record.ts';
import { parseConfig } from '../src/config.ts';
import { systemClock } from '../src/platform/clock.ts';
import { silentLogger } from '../src/platform/logger.ts';
import type { SharedState } from '../src/platform/shared-state/shared-state.ts';
import { openSharedState } from '../src/runtime/node/redis/redis-shared-state.ts';
import { pollUntil } from './support/poll-until.ts';
import { type RedisServerProcess, startRedisServer } from './support/redis-server-process.ts';

const staleMs = 400;

type Replica = { pool: BackendPool; sharedState: SharedState; share(): Promise<unknown> };

let redis: RedisServerProcess;
const opened: SharedState[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await Promise.all(opened.map((sharedState) => sharedState.close()));
  await redis?.stop();
});

/** A replica's pool and shared state, as `tokenbank serve` wires them, on `prefix`. */
function replica(instanceId: string, prefix: string, redisUrl: string | undefined): Replica {
  const parsed = parseConfig(
    {},
    {
      ...(redisUrl === undefined ? {} : { redisUrl }),
      redisPrefix: prefix,
      limits: {
        dispatchCountsStaleMs: staleMs,
        sharedStateRetryMs: 0,
        redisCommandTimeoutMs: 300,
        redisReconnectDelayMsMax: 50,
      },
    },
  );
  if (!parsed.ok) {
    throw new Error(parsed.message);
  }
  const { sharedState } = openSharedState({
    config: parsed.config,
    instanceId,
    clock: systemClock,
    logger: silentLogger,
  });
  opened.push(sharedState);
  const { pool } = poolWithBackends([backendRecord({ id: 'bkd_shared' })]);
  return {
    pool,
    sharedState,
    share: () =>
      shareDispatchCounts(pool, sharedState.dispatchCounts, sharedState.health, Date.now()),
  };
}

/** Rounds of every replica until each counts `expected` live replicas. */
async function settle(replicas: readonly Replica[], expected: number): Promise<void> {
  await pollUntil(async () => {
    for (const each of replicas) {
      await each.share();
    }
    return replicas.every((each) => each.pool.liveReplicaCount === expected) || undefined;
  }, `${replicas.length} replicas each counting ${expected}`);
}

describe('live replica count through Redis', () => {
  it('counts the replicas that share, and drops one that closes or goes silent', async () => {
    const [a, b, c] = ['gw_a', 'gw_b', 'gw_c'].map((id) => replica(id, 'count1:', redis.url));
    if (a === undefined || b === undefined || c === undefined) {
      throw new Error('three replicas expected');
    }
    expect(a.pool.liveReplicaCount).toBe(1);
    await settle([a, b, c], 3);
    // A clean close removes it at once: the next round already counts two.
    await c.sharedState.close();
    await a.share();
    await b.share();
    expect(a.pool.liveReplicaCount).toBe(2);
    expect(b.pool.liveReplicaCount).toBe(2);
    // B stops sharing (it died): after the stale time A is alone.
    const silentSinceMs = Date.now();
    await settle([a], 1);
    expect(Date.now() - silentSinceMs).toBeGreaterThanOrEqual(staleMs - 50);
  });

  it('keeps the count it last heard while Redis is down', async () => {
    const [a, b] = ['gw_d', 'gw_e'].map((id) => replica(id, 'count2:', redis.url));
    if (a === undefined || b === undefined) {
      throw new Error('two replicas expected');
    }
    await settle([a, b], 2);
    await redis.stop();
    try {
      expect(await a.share()).toBeUndefined();
      expect(a.sharedState.health.view('dispatch_counts').degraded).toBe(true);
      expect(a.pool.liveReplicaCount).toBe(2);
    } finally {
      await redis.start();
    }
    await settle([a, b], 2);
  });

  it('is one without Redis', async () => {
    const alone = replica('gw_alone', 'count3:', undefined);
    expect(alone.sharedState.shared).toBe(false);
    await alone.share();
    expect(alone.pool.liveReplicaCount).toBe(1);
  });
});

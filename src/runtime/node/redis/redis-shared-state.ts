/**
 * A replica's shared hot state in Redis (TOKENBANK_REDIS_URL), wired once: two connections (one
 * for commands, one subscribed to catalog changes), the Redis stores behind their degrading
 * wrappers, and a clean leave on close. Nothing here waits for Redis at start: a replica started
 * while Redis is down serves with local state and starts sharing when Redis answers.
 */
import type { Config } from '../../../config.ts';
import { createLocalSharedState } from '../../../gateway/replicas/shared-state.ts';
import type { Clock } from '../../../platform/clock.ts';
import type { Logger } from '../../../platform/logger.ts';
import {
  type CounterStore,
  createMemoryCounterStore,
  slotHoldMs,
} from '../../../platform/shared-state/counter-store.ts';
import { createDegradingCounterStore } from '../../../platform/shared-state/degrading-counter-store.ts';
import {
  createDegradingIdempotencyLocks,
  createMemoryIdempotencyLocks,
} from '../../../platform/shared-state/idempotency-locks.ts';
import type { SharedState } from '../../../platform/shared-state/shared-state.ts';
import { createSharedStateHealth } from '../../../platform/shared-state/shared-state-health.ts';
import { createRedisCatalogChanges } from './redis-catalog-changes.ts';
import { closeRedisConnection, openRedisConnection } from './redis-connection.ts';
import { createRedisCounterStore } from './redis-counter-store.ts';
import { createRedisDispatchCounts } from './redis-dispatch-counts.ts';
import { createRedisIdempotencyLocks } from './redis-idempotency-locks.ts';

export type SharedStateOptions = {
  config: Config;
  instanceId: string;
  clock: Clock;
  logger: Logger;
};

export type OpenedSharedState = { counters: CounterStore; sharedState: SharedState };

/** Redis when TOKENBANK_REDIS_URL is set; else this process's own state, as a single gateway. */
export function openSharedState(options: SharedStateOptions): OpenedSharedState {
  const { config, clock, logger } = options;
  if (config.redisUrl === undefined) {
    return {
      counters: createMemoryCounterStore(config.limits.counterEntriesMax),
      sharedState: createLocalSharedState({
        clock,
        logger,
        retryMs: config.limits.sharedStateRetryMs,
      }),
    };
  }
  return openRedisSharedState(config.redisUrl, options);
}

function openRedisSharedState(url: string, options: SharedStateOptions): OpenedSharedState {
  const { config, instanceId, clock, logger } = options;
  const { limits, redisPrefix: prefix } = config;
  const connection = (role: 'commands' | 'subscriber') =>
    openRedisConnection({
      url,
      role,
      name: `tokenbank-${instanceId}-${role}`,
      settings: limits,
      logger,
    });
  const client = connection('commands');
  const subscriber = connection('subscriber');
  const health = createSharedStateHealth({ logger, retryMs: limits.sharedStateRetryMs });
  const dispatchCounts = createRedisDispatchCounts({
    client,
    prefix,
    instanceId,
    staleMs: limits.dispatchCountsStaleMs,
  });
  const counters = createDegradingCounterStore({
    shared: createRedisCounterStore({
      client,
      prefix,
      instanceId,
      holderTtlMs: slotHoldMs(config.requestTimeoutS),
    }),
    local: createMemoryCounterStore(limits.counterEntriesMax),
    health,
    clock,
  });
  return {
    counters,
    sharedState: {
      shared: true,
      health,
      dispatchCounts,
      catalogChanges: createRedisCatalogChanges({
        publisher: client,
        subscriber,
        prefix,
        instanceId,
        health,
        logger,
      }),
      locks: createDegradingIdempotencyLocks({
        shared: createRedisIdempotencyLocks({ client, prefix }),
        local: createMemoryIdempotencyLocks(clock),
        health,
        clock,
      }),
      async close() {
        await dispatchCounts.leave().catch(() => {
          // Down already: the counts expire by themselves.
        });
        // From here the connections close because this replica stops, not because Redis failed.
        health.close();
        closeRedisConnection(subscriber);
        closeRedisConnection(client);
      },
    },
  };
}

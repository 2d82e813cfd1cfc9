/**
 * The hot state the replicas of one deployment share (Redis, docs/DEPLOY.md), as the core sees
 * it: whether it is shared at all, its health per part, the dispatch-count exchange, the catalog
 * change bus and the idempotency locks. The rate-limit counters are `Deps.counters`. Without
 * Redis every part is this process's own, exactly as for a single gateway.
 */
import {
  type DispatchCountExchange,
  localDispatchCountExchange,
} from '../../backends/dispatch-count-exchange.ts';
import type { Clock } from '../../platform/clock.ts';
import {
  createMemoryIdempotencyLocks,
  type IdempotencyLocks,
} from '../../platform/idempotency-locks.ts';
import type { Logger } from '../../platform/logger.ts';
import {
  createSharedStateHealth,
  type SharedStateHealth,
} from '../../platform/shared-state-health.ts';
import { type CatalogChangeBus, localCatalogChangeBus } from './catalog-changes.ts';

export type SharedState = {
  /** True with Redis: the parts below reach the other replicas. */
  shared: boolean;
  health: SharedStateHealth;
  dispatchCounts: DispatchCountExchange;
  catalogChanges: CatalogChangeBus;
  locks: IdempotencyLocks;
  /** Leaves the shared store (this replica's counts go at once) and closes its connections. */
  close(): Promise<void>;
};

export function createLocalSharedState(options: {
  clock: Clock;
  logger: Logger;
  retryMs: number;
}): SharedState {
  return {
    shared: false,
    health: createSharedStateHealth({ logger: options.logger, retryMs: options.retryMs }),
    dispatchCounts: localDispatchCountExchange,
    catalogChanges: localCatalogChangeBus,
    locks: createMemoryIdempotencyLocks(options.clock),
    close: async () => {},
  };
}

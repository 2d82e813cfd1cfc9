/**
 * The SharedState port: the hot state the replicas of one deployment share (Redis,
 * docs/DEPLOY.md), as the core sees it: whether it is shared at all, its health per part, the
 * dispatch-count exchange, the catalog change bus and the idempotency locks. The rate-limit
 * counters are `Deps.counters`. gateway/replicas/shared-state.ts makes the local one.
 */
import type { CatalogChangeBus } from './catalog-change-bus.ts';
import type { DispatchCountExchange } from './dispatch-count-exchange.ts';
import type { IdempotencyLocks } from './idempotency-locks.ts';
import type { SharedStateHealth } from './shared-state-health.ts';

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

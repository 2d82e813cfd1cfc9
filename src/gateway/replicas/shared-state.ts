/**
 * The SharedState of a gateway alone (platform/shared-state.ts): without Redis every part is this
 * process's own, exactly as for a single gateway.
 */

import { localCatalogChangeBus } from '../../platform/catalog-change-bus.ts';
import type { Clock } from '../../platform/clock.ts';
import { localDispatchCountExchange } from '../../platform/dispatch-count-exchange.ts';
import { createMemoryIdempotencyLocks } from '../../platform/idempotency-locks.ts';
import type { Logger } from '../../platform/logger.ts';
import type { SharedState } from '../../platform/shared-state.ts';
import { createSharedStateHealth } from '../../platform/shared-state-health.ts';

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

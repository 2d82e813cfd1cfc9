/**
 * The SharedState of a gateway alone (platform/shared-state/shared-state.ts): without Redis every part is this
 * process's own, exactly as for a single gateway.
 */

import type { Clock } from '../../platform/clock.ts';
import type { Logger } from '../../platform/logger.ts';
import { localCatalogChangeBus } from '../../platform/shared-state/catalog-change-bus.ts';
import { localDispatchCountExchange } from '../../platform/shared-state/dispatch-count-exchange.ts';
import { createMemoryIdempotencyLocks } from '../../platform/shared-state/idempotency-locks.ts';
import type { SharedState } from '../../platform/shared-state/shared-state.ts';
import { createSharedStateHealth } from '../../platform/shared-state/shared-state-health.ts';

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

/**
 * The DispatchCountExchange port: how replicas of the gateway tell each other how many requests
 * each has in flight on each backend, so that the router's correction of stale scraped load (and
 * its count on backends without metrics) includes the others' traffic, not only its own. The
 * runtime runs `shareDispatchCounts` on a short interval; the router reads the result from the
 * pool in memory, so no request ever waits for the exchange. Without Redis there are no peers.
 */
import { type SharedStateHealth, withLocalFallback } from '../platform/shared-state-health.ts';
import type { BackendPool } from './backend-pool.ts';

export type PeerDispatchCounts = {
  /** Other replicas that shared their counts recently. */
  replicaCount: number;
  /** Their requests in flight per backend id, summed; a backend absent has none. */
  inFlightByBackend: ReadonlyMap<string, number>;
};

export type DispatchCountExchange = {
  /** Publishes this replica's requests in flight per backend and returns the other replicas'. */
  exchange(own: ReadonlyMap<string, number>): Promise<PeerDispatchCounts>;
};

export const noPeerDispatchCounts: PeerDispatchCounts = {
  replicaCount: 0,
  inFlightByBackend: new Map(),
};

/** One gateway alone: nothing to share, nobody to hear from. */
export const localDispatchCountExchange: DispatchCountExchange = {
  exchange: async () => noPeerDispatchCounts,
};

/**
 * One round of the exchange: this replica's counts out, the others' into the pool. When the
 * exchange fails the peers count for nothing (local routing, as with one gateway) until it works.
 */
export async function shareDispatchCounts(
  pool: BackendPool,
  exchange: DispatchCountExchange,
  health: SharedStateHealth,
  nowMs: number,
): Promise<PeerDispatchCounts> {
  const own = new Map<string, number>();
  for (const backend of pool.all()) {
    if (backend.inFlight > 0) {
      own.set(backend.record.id, backend.inFlight);
    }
  }
  const peers = await withLocalFallback(
    health,
    'dispatch_counts',
    nowMs,
    () => exchange.exchange(own),
    async () => noPeerDispatchCounts,
  );
  pool.recordPeerLoad(peers.inFlightByBackend);
  return peers;
}

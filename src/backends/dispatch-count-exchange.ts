/**
 * Sharing dispatch counts over the DispatchCountExchange port
 * (platform/shared-state/dispatch-count-exchange.ts), so that the router's correction of stale
 * scraped load (and its count on backends without metrics) includes the others' traffic, not only
 * its own. The runtime runs `shareDispatchCounts` on a short interval; the router reads the result
 * from the pool in memory, so no request ever waits for the exchange. The same round tells how
 * many replicas are live, which decides whether the router may take the cheapest backend
 * outright. Without Redis there are no peers.
 */

import type {
  DispatchCountExchange,
  PeerDispatchCounts,
} from '../platform/shared-state/dispatch-count-exchange.ts';
import {
  type SharedStateHealth,
  withLocalFallback,
} from '../platform/shared-state/shared-state-health.ts';
import type { BackendPool } from './backend-pool.ts';

/**
 * One round of the exchange: this replica's counts out, the others' (and how many they are) into
 * the pool. When the exchange fails the peers' requests count for nothing (local routing, as with
 * one gateway) until it works, except on backends without a fresh scrape, where this replica's
 * count stands for each of them; the replica count stays as last heard, since the other replicas
 * are most likely still there, and a router that thought itself alone would herd onto the
 * cheapest backend with them.
 */
export async function shareDispatchCounts(
  pool: BackendPool,
  exchange: DispatchCountExchange,
  health: SharedStateHealth,
  nowMs: number,
): Promise<PeerDispatchCounts | undefined> {
  const own = new Map<string, number>();
  for (const backend of pool.all()) {
    if (backend.inFlight > 0) {
      own.set(backend.record.id, backend.inFlight);
    }
  }
  const peers = await withLocalFallback<PeerDispatchCounts | undefined>(
    health,
    'dispatch_counts',
    nowMs,
    () => exchange.exchange(own),
    async () => undefined,
  );
  pool.recordPeerLoad(peers?.inFlightByBackend);
  if (peers !== undefined) {
    pool.recordPeerReplicas(peers.replicaCount);
  }
  return peers;
}

import { describe, expect, it } from 'vitest';
import { silentLogger } from '../platform/logger.ts';
import type { DispatchCountExchange } from '../platform/shared-state/dispatch-count-exchange.ts';
import { createSharedStateHealth } from '../platform/shared-state/shared-state-health.ts';
import { shareDispatchCounts } from './dispatch-count-exchange.ts';
import { backendRecord, poolWithBackends } from './test-backend-record.ts';

describe('shareDispatchCounts', () => {
  it("sends this replica's requests in flight and records the others' in the pool", async () => {
    const { pool, backends } = poolWithBackends([
      backendRecord({ id: 'a' }),
      backendRecord({ id: 'b' }),
    ]);
    const [a] = backends;
    if (a === undefined) {
      throw new Error('a backend expected');
    }
    pool.begin(a, 0);
    pool.begin(a, 0);
    const sent: Map<string, number>[] = [];
    const exchange: DispatchCountExchange = {
      async exchange(own) {
        sent.push(new Map(own));
        return { replicaCount: 2, inFlightByBackend: new Map([['b', 4]]) };
      },
    };
    const health = createSharedStateHealth({ logger: silentLogger, retryMs: 1_000 });
    const peers = await shareDispatchCounts(pool, exchange, health, 0);
    expect(peers?.replicaCount).toBe(2);
    expect(pool.liveReplicaCount).toBe(3);
    expect(sent).toEqual([new Map([['a', 2]])]);
    expect(pool.get('a')?.load.peersInFlight).toBe(0);
    expect(pool.get('b')?.load.peersInFlight).toBe(4);
    expect(pool.get('b')?.load.peersHeard).toBe(true);
  });

  it("counts none of the peers' requests while the exchange fails, but keeps their number", async () => {
    const { pool } = poolWithBackends([backendRecord({ id: 'b' })]);
    pool.recordPeerLoad(new Map([['b', 4]]));
    pool.recordPeerReplicas(2);
    const health = createSharedStateHealth({ logger: silentLogger, retryMs: 1_000 });
    const failing: DispatchCountExchange = {
      exchange: () => Promise.reject(new Error('connection refused')),
    };
    const peers = await shareDispatchCounts(pool, failing, health, 0);
    expect(peers).toBeUndefined();
    expect(pool.get('b')?.load.peersInFlight).toBe(0);
    expect(pool.get('b')?.load.peersHeard).toBe(false);
    expect(pool.liveReplicaCount).toBe(3);
    expect(health.view('dispatch_counts').degraded).toBe(true);
  });
});

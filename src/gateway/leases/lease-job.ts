/**
 * The lease job, every `leaseCheckIntervalMs`: each replica reloads the running leases the router
 * sees (another replica's new lease is honoured within one interval); the elected replica also
 * settles the reservations a gateway left unpaid past their claim window, as their charge says
 * (lapsed-leases.ts), records each leased backend it finds failed (unhealthy, draining or gone
 * from the pool: it is not replaced, so its hours from then on are refunded) and closes every
 * lease whose term is over, refunding what was not delivered and paying the providers
 * (close-lease.ts).
 */
import { stateOf } from '../../backends/backend-pool.ts';
import type { Deps } from '../../deps.ts';
import { closeLeasesOver, leaseEndMs } from './close-lease.ts';
import { settleLapsedLeases } from './lapsed-leases.ts';

/** Marks the running leases' backends that cannot serve now; returns how many it marked. */
export async function markFailedLeasedBackends(deps: Deps): Promise<number> {
  const nowMs = deps.clock.nowMs();
  let marked = 0;
  for (const lease of await deps.leases.listOpen()) {
    if (lease.startsAtMs > nowMs || leaseEndMs(lease) <= nowMs) {
      continue;
    }
    for (const leased of lease.backends) {
      const pooled = deps.pool.get(leased.backendId);
      // An open circuit passes by itself; a backend unhealthy, draining or removed does not.
      const state = pooled === undefined ? 'removed' : stateOf(pooled);
      const failed = state === 'removed' || state === 'unhealthy' || state === 'draining';
      if (failed && leased.failedAtMs === null) {
        await deps.leases.markBackendFailed(lease.id, leased.backendId, nowMs);
        marked += 1;
      }
    }
  }
  return marked;
}

export async function checkLeases(deps: Deps, elected: boolean): Promise<number> {
  let closed = 0;
  if (elected) {
    await settleLapsedLeases(deps);
    await markFailedLeasedBackends(deps);
    closed = await closeLeasesOver(deps);
  }
  await deps.leaseRegistry.reload();
  return closed;
}

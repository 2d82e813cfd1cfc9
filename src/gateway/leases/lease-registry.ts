/**
 * What the router knows of leases, in memory so a request never reads the store: the paid leases
 * not yet closed, reloaded after this replica opens or ends one and by the lease job (so another
 * replica's lease is seen within one job interval). A lease runs from its start until its early
 * end or its term: while it runs, its backends serve its tenant's requests for its model first
 * and nobody else's.
 */
import type { LeaseStore, LeaseWithBackends } from '../../db/lease-store.ts';

export type RunningLease = { leaseId: string; backendIds: ReadonlySet<string> };

export class LeaseRegistry {
  #leases: readonly LeaseWithBackends[] = [];
  readonly #store: Pick<LeaseStore, 'listOpen'>;

  constructor(store: Pick<LeaseStore, 'listOpen'>) {
    this.#store = store;
  }

  async reload(): Promise<void> {
    this.#leases = await this.#store.listOpen();
  }

  #running(nowMs: number): LeaseWithBackends[] {
    return this.#leases.filter(
      (lease) => lease.startsAtMs <= nowMs && nowMs < (lease.endedAtMs ?? lease.endsAtMs),
    );
  }

  /** The tenant's running lease of the model, when it has one. */
  leaseOf(tenantId: string, model: string, nowMs: number): RunningLease | undefined {
    const lease = this.#running(nowMs).find(
      (candidate) => candidate.tenantId === tenantId && candidate.model === model,
    );
    return (
      lease && {
        leaseId: lease.id,
        backendIds: new Set(lease.backends.map((backend) => backend.backendId)),
      }
    );
  }

  /** The tenant whose running lease holds the backend, when one does. */
  lesseeOf(backendId: string, nowMs: number): string | undefined {
    return this.#running(nowMs).find((lease) =>
      lease.backends.some((backend) => backend.backendId === backendId),
    )?.tenantId;
  }
}

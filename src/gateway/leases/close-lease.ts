/**
 * Closing a lease, once: when it is ended early or its term is over, the ledger refunds the
 * whole hours its backends did not deliver and pays each provider its share of those they did
 * (billing/lease-terms.ts, lease-operation.ts), then the lease is marked settled. The lease job
 * closes every lease whose term is over; DELETE /v1/leases/{id} closes one at once.
 */

import { leaseOutcome } from '../../billing/lease-terms.ts';
import { fromStoredPaidBy } from '../../billing/paid-by.ts';
import type { LeaseWithBackends } from '../../db/lease-store.ts';
import type { Deps } from '../../deps.ts';

export function leaseEndMs(lease: LeaseWithBackends): number {
  return lease.endedAtMs ?? lease.endsAtMs;
}

export async function closeLease(deps: Deps, lease: LeaseWithBackends): Promise<bigint> {
  const nowMs = deps.clock.nowMs();
  const outcome = leaseOutcome(
    {
      startsAtMs: lease.startsAtMs,
      hours: lease.hours,
      cardHourMicro: lease.cardHourMicro,
      backends: lease.backends,
    },
    leaseEndMs(lease),
  );
  const ended = await deps.ledger.endLease({
    leaseId: lease.id,
    tenantId: lease.tenantId,
    costMicro: lease.cost,
    paidBy: fromStoredPaidBy(lease.paidBy ?? []),
    refundMicro: outcome.refundMicro,
    delivered: outcome.delivered,
    startsAtMs: lease.startsAtMs,
    atMs: nowMs,
  });
  await deps.leases.markSettled(lease.id, nowMs);
  return ended.refundedMicro;
}

/** Closes every open lease whose term is over; returns how many. */
export async function closeLeasesOver(deps: Deps): Promise<number> {
  const nowMs = deps.clock.nowMs();
  const over = (await deps.leases.listOpen()).filter((lease) => leaseEndMs(lease) <= nowMs);
  for (const lease of over) {
    await closeLease(deps, lease);
  }
  return over.length;
}

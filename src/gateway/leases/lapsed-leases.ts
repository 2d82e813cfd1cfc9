/**
 * Reservations left unpaid past their claim window: opening a lease reserves it, charges it
 * (`lease:{id}`), then marks it paid (open-lease.ts), and a gateway that died or stalled between
 * those steps leaves it so. The ledger says which it was. Charged: the lease is marked paid with
 * the payers the charge recorded, so it is routed, closed and refunded like any other. Never
 * charged: the reservation is dropped, freeing its backends, and no money moved.
 */
import { leaseChargeKey } from '../../billing/lease-operation.ts';
import { toStoredPaidBy } from '../../billing/paid-by.ts';
import type { Deps } from '../../deps.ts';
import { leaseClaimMs } from './open-lease.ts';

/** Settles every lapsed reservation as its charge says; returns how many it settled. */
export async function settleLapsedLeases(
  deps: Pick<Deps, 'clock' | 'leases' | 'ledger'>,
): Promise<number> {
  const nowMs = deps.clock.nowMs();
  const lapsed = await deps.leases.listUnpaidBefore(nowMs - leaseClaimMs);
  for (const lease of lapsed) {
    const paidBy = await deps.ledger.transactionPayers(leaseChargeKey(lease.id));
    if (paidBy === undefined) {
      await deps.leases.drop(lease.id);
    } else {
      await deps.leases.markPaid(lease.id, toStoredPaidBy(paidBy), nowMs);
    }
  }
  return lapsed.length;
}

/**
 * A lease's record in a test world's LeaseStore, written the way the gateway writes it before the
 * ledger charges it (gateway/leases/open-lease.ts): the ledger check judges a lease's charge and
 * end against this record, so suites driving the ledger directly record their leases first.
 */
import {
  hourMs,
  type LeaseTerm,
  leaseAccelerators,
  leaseLine,
} from '../../src/billing/lease-terms.ts';
import type { MeterLine } from '../../src/billing/meters.ts';
import type { LeaseStore } from '../../src/db/lease-store.ts';

export type LeaseToRecord = {
  id: string;
  tenantId: string;
  model: string;
  term: LeaseTerm;
  atMs: number;
};

/** Records the lease, unpaid, and answers the line its charge is for. */
export async function recordLease(leases: LeaseStore, lease: LeaseToRecord): Promise<MeterLine> {
  const line = leaseLine(lease.term);
  const reserved = await leases.reserve(
    {
      id: lease.id,
      tenantId: lease.tenantId,
      model: lease.model,
      region: null,
      accelerators: leaseAccelerators(lease.term.backends),
      hours: lease.term.hours,
      priceId: 'card-hour-price',
      cardHourMicro: lease.term.cardHourMicro,
      cost: line.costMicro,
      startsAtMs: lease.term.startsAtMs,
      endsAtMs: lease.term.startsAtMs + lease.term.hours * hourMs,
      paidBy: null,
      paidAtMs: null,
      endedAtMs: null,
      settledAtMs: null,
      createdAtMs: lease.atMs,
    },
    lease.term.backends.map((backend) => ({ ...backend, leaseId: lease.id })),
    lease.atMs,
  );
  if (!reserved) {
    throw new Error(`lease ${lease.id}: its backends are held by another lease`);
  }
  return line;
}

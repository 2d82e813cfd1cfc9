/**
 * The LeaseStore port: card-hour leases and the backends each one pins (API.md "Dedicated
 * capacity"). The money is the ledger's (billing/lease-operation.ts); this store holds the terms
 * and makes the reservation of backends atomic: two leases never hold one backend for
 * overlapping terms. A lease is reserved unpaid, then marked paid once the ledger charged it; an
 * unpaid one older than the claim window (a gateway that died between the two) holds nothing,
 * and the lease job marks it paid or drops it as the ledger says (gateway/leases/lapsed-leases.ts).
 */
import type { StoredPayer } from './enums.ts';
import type { leaseBackends, leases } from './schema.ts';

export type LeaseRecord = typeof leases.$inferSelect;
export type LeaseBackendRecord = typeof leaseBackends.$inferSelect;
export type LeaseWithBackends = LeaseRecord & { backends: LeaseBackendRecord[] };

/** A page of a tenant's leases: newest first, those after `after` (the last of the page before). */
export type LeasePage = {
  limit: number;
  after?: Pick<LeaseRecord, 'id' | 'createdAtMs'> | undefined;
};

export type LeaseStore = {
  /**
   * Inserts the lease, unpaid, with its backends, unless one of them is held by another lease
   * whose term overlaps (paid, or unpaid and created at or after `claimedSinceMs`); false then.
   */
  reserve(
    lease: LeaseRecord,
    backends: readonly LeaseBackendRecord[],
    claimedSinceMs: number,
  ): Promise<boolean>;
  /** Records what paid the lease's charge; false when its reservation is gone (dropped). */
  markPaid(id: string, paidBy: StoredPayer[], atMs: number): Promise<boolean>;
  /**
   * Forgets an unpaid lease (the ledger refused to charge it, or never did) and frees its
   * backends; false, changing nothing, when it was paid meanwhile or is gone.
   */
  drop(id: string): Promise<boolean>;
  /** Unpaid leases created before `createdBeforeMs`: reservations past their claim window. */
  listUnpaidBefore(createdBeforeMs: number): Promise<LeaseRecord[]>;
  get(id: string): Promise<LeaseWithBackends | undefined>;
  /** The tenant's paid leases, newest first (by creation, then id). */
  listOfTenant(tenantId: string, page: LeasePage): Promise<LeaseWithBackends[]>;
  /** Paid leases not yet settled: those running, scheduled, or over but not closed. */
  listOpen(): Promise<LeaseWithBackends[]>;
  /** Sets the early end of an open lease; false when it had already ended or was settled. */
  endEarly(id: string, atMs: number): Promise<boolean>;
  markSettled(id: string, atMs: number): Promise<void>;
  /** Records when a leased backend was first found failed (later findings change nothing). */
  markBackendFailed(leaseId: string, backendId: string, atMs: number): Promise<void>;
};

/**
 * A lease's record as a tenant object keeps it beside its ledger. On Workers the leases live in
 * the coordinator object (one store for the deployment, so two tenants never lease one backend for
 * overlapping terms), but the ledger check a tenant object runs judges the lease's charge and end
 * against the lease's terms and backends (billing/lease-check.ts), read from its own storage as
 * on Node. So the Worker sends the lease as the coordinator object holds it before it charges or ends
 * it (tenant-ledgers.ts): the record replaces the object's copy, and a lease the coordinator object
 * no longer holds (a reservation dropped when it lapsed) is removed, as Node's drop removes it.
 */
import { eq } from 'drizzle-orm';
import type { LeaseWithBackends } from '../../../db/lease-store.ts';
import { leaseBackends, leases } from '../../../db/schema.ts';
import type { DurableStoreDatabase } from '../durable-store-database.ts';

/** The lease `id` as the coordinator object holds it now; null when it holds none. */
export type MirroredLease = { id: string; lease: LeaseWithBackends | null };

/** Replaces the object's copy of the lease; call inside its transactionSync. */
export function writeLeaseMirror(database: DurableStoreDatabase, mirrored: MirroredLease): void {
  database.delete(leaseBackends).where(eq(leaseBackends.leaseId, mirrored.id)).run();
  database.delete(leases).where(eq(leases.id, mirrored.id)).run();
  if (mirrored.lease === null) {
    return;
  }
  const { backends, ...record } = mirrored.lease;
  database.insert(leases).values(record).run();
  if (backends.length > 0) {
    database.insert(leaseBackends).values(backends).run();
  }
}

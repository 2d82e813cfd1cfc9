/**
 * The LeaseStore over the synchronous drizzle SQLite database: a reservation checks and inserts
 * in one IMMEDIATE transaction, so no other writer slips a lease in between; so does a drop, so
 * a lease paid meanwhile keeps its backends.
 */
import { and, desc, eq, inArray, isNotNull, isNull } from 'drizzle-orm';
import {
  leaseHoldsBackends,
  leasesOfTenantPage,
  unpaidCreatedBefore,
  unpaidLease,
} from './lease-queries.ts';
import type { LeaseRecord, LeaseStore, LeaseWithBackends } from './lease-store.ts';
import type { SqliteDatabase } from './portable-sqlite.ts';
import { leaseBackends, leases } from './schema.ts';

export function createSqliteLeaseStore(database: SqliteDatabase): LeaseStore {
  function withBackends(rows: readonly LeaseRecord[]): LeaseWithBackends[] {
    if (rows.length === 0) {
      return [];
    }
    const held = database
      .select()
      .from(leaseBackends)
      .where(
        inArray(
          leaseBackends.leaseId,
          rows.map((row) => row.id),
        ),
      )
      .all();
    return rows.map((row) => ({
      ...row,
      backends: held.filter((backend) => backend.leaseId === row.id),
    }));
  }
  return {
    reserve: async (lease, backends, claimedSinceMs) =>
      database.transaction(
        (transaction) => {
          const taken = transaction
            .select({ id: leases.id })
            .from(leases)
            .innerJoin(leaseBackends, eq(leaseBackends.leaseId, leases.id))
            .where(leaseHoldsBackends(leases, leaseBackends, lease, backends, claimedSinceMs))
            .limit(1)
            .all();
          if (taken.length > 0) {
            return false;
          }
          transaction.insert(leases).values(lease).run();
          transaction
            .insert(leaseBackends)
            .values([...backends])
            .run();
          return true;
        },
        { behavior: 'immediate' },
      ),
    markPaid: async (id, paidBy, atMs) =>
      database
        .update(leases)
        .set({ paidBy, paidAtMs: atMs })
        .where(eq(leases.id, id))
        .returning({ id: leases.id })
        .all().length === 1,
    drop: async (id) =>
      database.transaction(
        (transaction) => {
          const unpaid = transaction
            .select({ id: leases.id })
            .from(leases)
            .where(unpaidLease(leases, id))
            .all();
          if (unpaid.length === 0) {
            return false;
          }
          transaction.delete(leaseBackends).where(eq(leaseBackends.leaseId, id)).run();
          transaction.delete(leases).where(eq(leases.id, id)).run();
          return true;
        },
        { behavior: 'immediate' },
      ),
    listUnpaidBefore: async (createdBeforeMs) =>
      database.select().from(leases).where(unpaidCreatedBefore(leases, createdBeforeMs)).all(),
    get: async (id) =>
      withBackends(database.select().from(leases).where(eq(leases.id, id)).all())[0],
    listOfTenant: async (tenantId, page) =>
      withBackends(
        database
          .select()
          .from(leases)
          .where(leasesOfTenantPage(leases, tenantId, page))
          .orderBy(desc(leases.createdAtMs), desc(leases.id))
          .limit(page.limit)
          .all(),
      ),
    listOpen: async () =>
      withBackends(
        database
          .select()
          .from(leases)
          .where(and(isNotNull(leases.paidAtMs), isNull(leases.settledAtMs)))
          .all(),
      ),
    endEarly: async (id, atMs) =>
      database
        .update(leases)
        .set({ endedAtMs: atMs })
        .where(and(eq(leases.id, id), isNull(leases.endedAtMs), isNull(leases.settledAtMs)))
        .returning({ id: leases.id })
        .all().length === 1,
    markSettled: async (id, atMs) => {
      database.update(leases).set({ settledAtMs: atMs }).where(eq(leases.id, id)).run();
    },
    markBackendFailed: async (leaseId, backendId, atMs) => {
      database
        .update(leaseBackends)
        .set({ failedAtMs: atMs })
        .where(
          and(
            eq(leaseBackends.leaseId, leaseId),
            eq(leaseBackends.backendId, backendId),
            isNull(leaseBackends.failedAtMs),
            // Once the lease ended or was settled, its refund is fixed: a late finding changes nothing.
            inArray(
              leaseBackends.leaseId,
              database
                .select({ id: leases.id })
                .from(leases)
                .where(
                  and(eq(leases.id, leaseId), isNull(leases.endedAtMs), isNull(leases.settledAtMs)),
                ),
            ),
          ),
        )
        .run();
    },
  };
}

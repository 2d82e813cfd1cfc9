/**
 * The LeaseStore over PostgreSQL, for several replicas: reservations take turns on one advisory
 * lock, so a check and its insert never interleave with another replica's; a drop locks the
 * unpaid lease's row, so a lease paid meanwhile keeps its backends.
 */
import { and, desc, eq, inArray, isNotNull, isNull, sql } from 'drizzle-orm';
import {
  leaseHoldsBackends,
  leasesOfTenantPage,
  unpaidCreatedBefore,
  unpaidLease,
} from './lease-queries.ts';
import type { LeaseRecord, LeaseStore, LeaseWithBackends } from './lease-store.ts';
import type { PostgresDatabase } from './postgres-catalog.ts';
import { leaseBackends, leases } from './postgres-schema.ts';

export function createPostgresLeaseStore(database: PostgresDatabase): LeaseStore {
  async function withBackends(rows: readonly LeaseRecord[]): Promise<LeaseWithBackends[]> {
    if (rows.length === 0) {
      return [];
    }
    const held = await database
      .select()
      .from(leaseBackends)
      .where(
        inArray(
          leaseBackends.leaseId,
          rows.map((row) => row.id),
        ),
      );
    return rows.map((row) => ({
      ...row,
      backends: held.filter((backend) => backend.leaseId === row.id),
    }));
  }
  return {
    reserve: async (lease, backends, claimedSinceMs) =>
      database.transaction(async (transaction) => {
        await transaction.execute(sql`SELECT pg_advisory_xact_lock(hashtext('leases'))`);
        const taken = await transaction
          .select({ id: leases.id })
          .from(leases)
          .innerJoin(leaseBackends, eq(leaseBackends.leaseId, leases.id))
          .where(leaseHoldsBackends(leases, leaseBackends, lease, backends, claimedSinceMs))
          .limit(1);
        if (taken.length > 0) {
          return false;
        }
        await transaction.insert(leases).values(lease);
        await transaction.insert(leaseBackends).values([...backends]);
        return true;
      }),
    markPaid: async (id, paidBy, atMs) =>
      (
        await database
          .update(leases)
          .set({ paidBy, paidAtMs: atMs })
          .where(eq(leases.id, id))
          .returning({ id: leases.id })
      ).length === 1,
    drop: async (id) =>
      database.transaction(async (transaction) => {
        // The row lock makes a concurrent markPaid wait, then find the lease gone.
        const unpaid = await transaction
          .select({ id: leases.id })
          .from(leases)
          .where(unpaidLease(leases, id))
          .for('update');
        if (unpaid.length === 0) {
          return false;
        }
        await transaction.delete(leaseBackends).where(eq(leaseBackends.leaseId, id));
        await transaction.delete(leases).where(eq(leases.id, id));
        return true;
      }),
    listUnpaidBefore: async (createdBeforeMs) =>
      database.select().from(leases).where(unpaidCreatedBefore(leases, createdBeforeMs)),
    get: async (id) =>
      (await withBackends(await database.select().from(leases).where(eq(leases.id, id))))[0],
    listOfTenant: async (tenantId, page) =>
      withBackends(
        await database
          .select()
          .from(leases)
          .where(leasesOfTenantPage(leases, tenantId, page))
          .orderBy(desc(leases.createdAtMs), desc(leases.id))
          .limit(page.limit),
      ),
    listOpen: async () =>
      withBackends(
        await database
          .select()
          .from(leases)
          .where(and(isNotNull(leases.paidAtMs), isNull(leases.settledAtMs))),
      ),
    endEarly: async (id, atMs) =>
      (
        await database
          .update(leases)
          .set({ endedAtMs: atMs })
          .where(and(eq(leases.id, id), isNull(leases.endedAtMs), isNull(leases.settledAtMs)))
          .returning({ id: leases.id })
      ).length === 1,
    markSettled: async (id, atMs) => {
      await database.update(leases).set({ settledAtMs: atMs }).where(eq(leases.id, id));
    },
    markBackendFailed: async (leaseId, backendId, atMs) => {
      await database
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
        );
    },
  };
}

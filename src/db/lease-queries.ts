/**
 * The conditions both lease stores share: a reservation's (another lease holds one of these
 * backends for a term overlapping this one's, an early end freeing the rest of its term, and it
 * counts, being paid or claimed recently enough to still be paid), a tenant's page of leases,
 * and an unpaid lease (one that may be dropped), or all those past their claim window.
 */
import { and, eq, inArray, isNotNull, isNull, lt, or, type SQL, sql } from 'drizzle-orm';
import type { LeaseBackendRecord, LeasePage, LeaseRecord } from './lease-store.ts';
import type {
  leaseBackends as postgresLeaseBackends,
  leases as postgresLeases,
} from './postgres-schema.ts';
import type { leaseBackends as sqliteLeaseBackends, leases as sqliteLeases } from './schema.ts';

type LeasesTable = typeof sqliteLeases | typeof postgresLeases;
type LeaseBackendsTable = typeof sqliteLeaseBackends | typeof postgresLeaseBackends;

export function leaseHoldsBackends(
  leases: LeasesTable,
  leaseBackends: LeaseBackendsTable,
  lease: Pick<LeaseRecord, 'startsAtMs' | 'endsAtMs'>,
  backends: readonly Pick<LeaseBackendRecord, 'backendId'>[],
  claimedSinceMs: number,
): SQL | undefined {
  return and(
    inArray(
      leaseBackends.backendId,
      backends.map((backend) => backend.backendId),
    ),
    sql`${leases.startsAtMs} < ${lease.endsAtMs}`,
    sql`COALESCE(${leases.endedAtMs}, ${leases.endsAtMs}) > ${lease.startsAtMs}`,
    or(isNotNull(leases.paidAtMs), sql`${leases.createdAtMs} >= ${claimedSinceMs}`),
  );
}

/** The tenant's paid leases on the page, newest first: those before the cursor in that order. */
export function leasesOfTenantPage(
  leases: LeasesTable,
  tenantId: string,
  page: LeasePage,
): SQL | undefined {
  const { after } = page;
  return and(
    eq(leases.tenantId, tenantId),
    isNotNull(leases.paidAtMs),
    after === undefined
      ? undefined
      : or(
          lt(leases.createdAtMs, after.createdAtMs),
          and(eq(leases.createdAtMs, after.createdAtMs), lt(leases.id, after.id)),
        ),
  );
}

/** The lease, while it is unpaid: only then may it be dropped. */
export function unpaidLease(leases: LeasesTable, id: string): SQL | undefined {
  return and(eq(leases.id, id), isNull(leases.paidAtMs));
}

/** Unpaid leases created before the time: reservations past their claim window, when it is. */
export function unpaidCreatedBefore(leases: LeasesTable, createdBeforeMs: number): SQL | undefined {
  return and(isNull(leases.paidAtMs), lt(leases.createdAtMs, createdBeforeMs));
}

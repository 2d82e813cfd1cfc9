/**
 * The condition both stores' lease reservations share: another lease holds one of these backends
 * for a term overlapping this one's (an early end frees the rest of its term), and it counts,
 * being paid or claimed recently enough to still be paid.
 */
import { and, inArray, isNotNull, or, type SQL, sql } from 'drizzle-orm';
import type { LeaseBackendRecord, LeaseRecord } from './lease-store.ts';
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

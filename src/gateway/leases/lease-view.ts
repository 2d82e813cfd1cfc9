/** A lease as the API shows it (API.md "Dedicated capacity"), its status read from the clock. */
import { formatMoney } from '../../billing/money.ts';
import type { LeaseWithBackends } from '../../db/lease-store.ts';
import { toRfc3339 } from '../../platform/clock.ts';

export type LeaseStatus = 'scheduled' | 'active' | 'ended' | 'expired';

export function leaseStatus(lease: LeaseWithBackends, nowMs: number): LeaseStatus {
  if (lease.endedAtMs !== null) {
    return 'ended';
  }
  if (nowMs >= lease.endsAtMs) {
    return 'expired';
  }
  return nowMs < lease.startsAtMs ? 'scheduled' : 'active';
}

export function leaseView(lease: LeaseWithBackends, nowMs: number, refundedMicro?: bigint) {
  return {
    id: lease.id,
    object: 'lease',
    model: lease.model,
    region: lease.region,
    backend_ids: lease.backends.map((backend) => backend.backendId),
    accelerators: lease.accelerators,
    hours: lease.hours,
    card_hour: formatMoney(lease.cardHourMicro),
    starts_at: toRfc3339(lease.startsAtMs),
    ends_at: toRfc3339(lease.endsAtMs),
    ended_at: lease.endedAtMs === null ? null : toRfc3339(lease.endedAtMs),
    status: leaseStatus(lease, nowMs),
    cost: formatMoney(lease.cost),
    ...(refundedMicro === undefined ? {} : { refunded: formatMoney(refundedMicro) }),
  };
}

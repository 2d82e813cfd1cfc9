/**
 * Opening a card-hour lease: choose whole active backends serving the model (in the region asked,
 * within the tenant's allowed regions) that no other lease holds for an overlapping term, largest
 * first until their accelerators cover what was asked; reserve them atomically (LeaseStore), then
 * charge the whole term through the ledger, then mark it paid. A charge refused for want of money
 * drops the reservation: nothing is held and nothing is paid. A gateway that dies between the
 * steps leaves an unpaid reservation, which the lease job settles once its claim window is over
 * (lapsed-leases.ts).
 */

import type { PooledBackend } from '../../backends/backend-pool.ts';
import { hourMs, type LeasedBackend, leaseLine } from '../../billing/lease-terms.ts';
import { formatMoney } from '../../billing/money.ts';
import { toStoredPaidBy } from '../../billing/paid-by.ts';
import { currentPrices, priceFor } from '../../billing/price-book.ts';
import type { PriceRecord, TenantRecord } from '../../db/catalog.ts';
import type { LeaseRecord, LeaseWithBackends } from '../../db/lease-store.ts';
import type { Deps } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { newId } from '../../platform/identifiers.ts';

export type LeaseAsk = {
  model: string;
  region: string | undefined;
  accelerators: number;
  hours: number;
  startsAtMs: number;
};

/**
 * How long an unpaid reservation holds its backends: the charge follows it at once. Past it, the
 * lease job settles the reservation as the ledger says (lapsed-leases.ts).
 */
export const leaseClaimMs = 60_000;

function isFreeFor(backend: PooledBackend, open: readonly LeaseWithBackends[], ask: LeaseAsk) {
  const endsAtMs = ask.startsAtMs + ask.hours * hourMs;
  return !open.some(
    (lease) =>
      lease.startsAtMs < endsAtMs &&
      (lease.endedAtMs ?? lease.endsAtMs) > ask.startsAtMs &&
      lease.backends.some((held) => held.backendId === backend.record.id),
  );
}

/** Regions to try: the one asked, else the tenant's home region first, then the others by name. */
function regionsToTry(tenant: TenantRecord, candidates: readonly PooledBackend[], ask: LeaseAsk) {
  if (ask.region !== undefined) {
    return [ask.region];
  }
  const regions = [...new Set(candidates.map((backend) => backend.record.region))].sort();
  const home = tenant.homeRegion;
  return home !== null && regions.includes(home)
    ? [home, ...regions.filter((region) => region !== home)]
    : regions;
}

/**
 * Backends of one region that cover the accelerators asked with little to spare: the smallest
 * one that covers it alone, else the largest first until they do.
 */
function enoughBackends(backends: readonly PooledBackend[], accelerators: number) {
  const largestFirst = [...backends].sort(
    (left, right) => right.record.accelerators - left.record.accelerators,
  );
  const single = largestFirst.findLast((backend) => backend.record.accelerators >= accelerators);
  if (single) {
    return [single];
  }
  const chosen: PooledBackend[] = [];
  let total = 0;
  for (const backend of largestFirst) {
    if (total >= accelerators) {
      break;
    }
    chosen.push(backend);
    total += backend.record.accelerators;
  }
  return total >= accelerators ? chosen : undefined;
}

type Choice = {
  region: string;
  price: PriceRecord & { cardHourMicro: bigint };
  backends: PooledBackend[];
};

async function chooseBackends(deps: Deps, tenant: TenantRecord, ask: LeaseAsk): Promise<Choice> {
  const allowed = tenant.allowedRegions;
  const candidates = deps.pool
    .serving(ask.model)
    .filter(
      (backend) =>
        backend.record.state === 'active' &&
        (allowed === null || allowed.includes(backend.record.region)),
    );
  const prices = currentPrices(await deps.catalog.listPrices(), deps.clock.nowMs());
  const open = await deps.leases.listOpen();
  let priced = false;
  for (const region of regionsToTry(tenant, candidates, ask)) {
    const price = priceFor(prices, ask.model, region);
    if (price?.cardHourMicro == null) {
      continue;
    }
    priced = true;
    const free = candidates.filter(
      (backend) => backend.record.region === region && isFreeFor(backend, open, ask),
    );
    const backends = enoughBackends(free, ask.accelerators);
    if (backends) {
      return { region, price: { ...price, cardHourMicro: price.cardHourMicro }, backends };
    }
  }
  if (!priced) {
    throw new GatewayError(
      'invalid_request',
      `Model '${ask.model}' has no card-hour price${ask.region === undefined ? '' : ` in region '${ask.region}'`}: it is not offered for leases.`,
      { param: 'model' },
    );
  }
  throw new GatewayError(
    'no_capacity',
    `No free backends serving '${ask.model}' add up to ${ask.accelerators} accelerators for that term${ask.region === undefined ? '' : ` in region '${ask.region}'`}.`,
  );
}

export async function openLease(
  deps: Deps,
  tenant: TenantRecord,
  ask: LeaseAsk,
): Promise<LeaseWithBackends> {
  const choice = await chooseBackends(deps, tenant, ask);
  const nowMs = deps.clock.nowMs();
  const backends: LeasedBackend[] = choice.backends.map((backend) => ({
    backendId: backend.record.id,
    providerId: backend.record.providerId,
    accelerators: backend.record.accelerators,
    failedAtMs: null,
  }));
  const id = newId('lse');
  const line = leaseLine({
    startsAtMs: ask.startsAtMs,
    hours: ask.hours,
    cardHourMicro: choice.price.cardHourMicro,
    backends,
  });
  const lease: LeaseRecord = {
    id,
    tenantId: tenant.id,
    model: ask.model,
    region: ask.region ?? null,
    accelerators: backends.reduce((sum, backend) => sum + backend.accelerators, 0),
    hours: ask.hours,
    priceId: choice.price.id,
    cardHourMicro: choice.price.cardHourMicro,
    cost: line.costMicro,
    startsAtMs: ask.startsAtMs,
    endsAtMs: ask.startsAtMs + ask.hours * hourMs,
    paidBy: null,
    paidAtMs: null,
    endedAtMs: null,
    settledAtMs: null,
    createdAtMs: nowMs,
  };
  const rows = backends.map((backend) => ({ ...backend, leaseId: id }));
  if (!(await deps.leases.reserve(lease, rows, nowMs - leaseClaimMs))) {
    throw new GatewayError('conflict', 'Another lease took those backends just now; try again.');
  }
  const charged = await deps.ledger.chargeLease({
    leaseId: id,
    tenantId: tenant.id,
    model: ask.model,
    region: choice.region,
    line,
    atMs: nowMs,
  });
  if (!charged.paid) {
    await deps.leases.drop(id);
    throw new GatewayError(
      'insufficient_quota',
      `Insufficient quota: this lease costs ${formatMoney(charged.costMicro)} ${deps.config.currency} up front and ${formatMoney(charged.availableMicro)} is available.`,
    );
  }
  const paidBy = toStoredPaidBy(charged.paidBy);
  if (!(await deps.leases.markPaid(id, paidBy, nowMs))) {
    // This gateway stalled past the claim window and the lease job, finding no charge yet,
    // dropped the reservation: the lease is not opened, and its charge goes back in full.
    await deps.ledger.endLease({
      leaseId: id,
      tenantId: tenant.id,
      costMicro: charged.costMicro,
      paidBy: charged.paidBy,
      refundMicro: charged.costMicro,
      delivered: [],
      startsAtMs: ask.startsAtMs,
      atMs: deps.clock.nowMs(),
    });
    throw new GatewayError(
      'conflict',
      'The lease lapsed before it was paid and was refunded; try again.',
    );
  }
  await deps.leaseRegistry.reload();
  return {
    ...lease,
    paidBy,
    paidAtMs: nowMs,
    backends: rows,
  };
}

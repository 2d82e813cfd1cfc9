/**
 * Where one batch's lines of one model may go now: what each region the tenant may use offers
 * (spare room left by interactive traffic, its price now and its next off-peak window), the
 * placement line-placement.ts decides from it for the batch's deadline and pace, and the room
 * left as lines are sent during a pass. Also the narrowing a sent line's routing gets: the
 * backends of its region that still have spare room when it is picked.
 */
import type { PooledBackend } from '../../backends/backend-pool.ts';
import type { BatchRecord } from '../../db/batch-store.ts';
import type { ClientIdentity, Deps } from '../../deps.ts';
import { isModelInScope } from '../inference/select-candidates.ts';
import { latestStartMs, type Placement, placeLines, type RegionOffer } from './line-placement.ts';

export type LinePlan = { placement: Placement; roomLeft: Map<string, number> };

const listPriceBps = 10_000;

/** What each allowed region offers the model's lines now. */
async function offersFor(
  deps: Deps,
  allowed: readonly PooledBackend[],
  model: string,
  nowMs: number,
): Promise<RegionOffer[]> {
  const reserveBps = deps.config.limits.batchInteractiveReserveBps;
  const roomByRegion = new Map<string, number>();
  for (const backend of allowed) {
    const room = deps.pool.isRoutable(backend, nowMs)
      ? deps.pool.spareRoom(backend, nowMs, reserveBps)
      : 0;
    const region = backend.record.region;
    roomByRegion.set(region, (roomByRegion.get(region) ?? 0) + room);
  }
  const offers: RegionOffer[] = [];
  for (const [region, spareRoom] of roomByRegion) {
    const price = await deps.catalogCache.pinnedPrice(model, region, nowMs);
    if (price === undefined) {
      continue;
    }
    offers.push({
      region,
      spareRoom,
      unitPriceMicro:
        ((price.inputPerMillion + price.outputPerMillion) * BigInt(price.multiplierBps)) /
        BigInt(listPriceBps),
      offpeakNow: price.multiplierBps < listPriceBps,
      nextOffpeakAtMs: await deps.catalogCache.nextOffpeakAtMs(model, region, nowMs),
    });
  }
  return offers;
}

/** The plan for the batch's lines of one model; they wait when the model is gone or out of scope. */
export async function planLines(
  deps: Deps,
  batch: BatchRecord,
  client: ClientIdentity,
  model: string,
  lineMsMean: number,
): Promise<LinePlan> {
  const { limits } = deps.config;
  const nowMs = deps.clock.nowMs();
  if (!isModelInScope(client, model) || !deps.pool.knowsModel(model)) {
    return { placement: { kind: 'wait', untilMs: undefined }, roomLeft: new Map() };
  }
  const allowedRegions = client.tenant.allowedRegions;
  const allowed = deps.pool
    .serving(model)
    .filter((backend) => allowedRegions === null || allowedRegions.includes(backend.record.region));
  const offers = await offersFor(deps, allowed, model, nowMs);
  const latestMs = latestStartMs(batch.expiresAtMs, {
    linesLeft: batch.requestTotal - batch.requestCompleted - batch.requestFailed,
    lineMsMean,
    linesAtOnce: limits.batchLinesInFlightMax,
    runwayMinMs: limits.batchDeadlineRunwayS * 1000,
  });
  return {
    placement: placeLines(offers, nowMs, latestMs),
    roomLeft: new Map(offers.map((offer) => [offer.region, offer.spareRoom])),
  };
}

/** The cheapest region of the plan with room left this pass, if lines may run now. */
export function takeRoom(plan: LinePlan): string | undefined {
  if (plan.placement.kind !== 'run') {
    return undefined;
  }
  const region = plan.placement.regions.find((each) => (plan.roomLeft.get(each) ?? 0) > 0);
  if (region !== undefined) {
    plan.roomLeft.set(region, (plan.roomLeft.get(region) ?? 0) - 1);
  }
  return region;
}

/** A line's routing, narrowed to the backends of its region with spare room when it is picked. */
export function backendsWithRoomIn(deps: Deps, region: string) {
  return (allowed: readonly PooledBackend[]) => {
    const nowMs = deps.clock.nowMs();
    return allowed.filter(
      (backend) =>
        backend.record.region === region &&
        deps.pool.isRoutable(backend, nowMs) &&
        deps.pool.spareRoom(backend, nowMs, deps.config.limits.batchInteractiveReserveBps) > 0,
    );
  };
}

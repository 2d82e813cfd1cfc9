/**
 * Where and when a batch's lines for one model may run, decided from what each allowed region
 * offers now: room left free by interactive traffic, its price now, and when its off-peak window
 * next opens. Inside an off-peak window lines run only there (at its price); before one they
 * wait for it, unless it opens too late for the batch's window, when they run at once at the
 * normal price in the cheapest region with room. The normal price is what the same request sent
 * interactively would pay at that moment, so a batch never costs more.
 */

export type RegionOffer = {
  region: string;
  /** Lines the region's backends can take now without touching the interactive reserve. */
  spareRoom: number;
  /** The price now, input and output per million tokens together, multiplier applied. */
  unitPriceMicro: bigint;
  /** The price now is an off-peak one. */
  offpeakNow: boolean;
  /** When the region's off-peak window next opens; undefined when its price has none. */
  nextOffpeakAtMs: number | undefined;
};

export type Placement =
  /** Run now in these regions, cheapest first; each has room. */
  | { kind: 'run'; regions: string[]; offpeak: boolean }
  /** Wait: for an off-peak window (`untilMs`), or for room (`untilMs` undefined). */
  | { kind: 'wait'; untilMs: number | undefined };

function cheapestFirst(offers: readonly RegionOffer[]): string[] {
  return [...offers]
    .sort((left, right) =>
      left.unitPriceMicro === right.unitPriceMicro
        ? left.region.localeCompare(right.region)
        : left.unitPriceMicro < right.unitPriceMicro
          ? -1
          : 1,
    )
    .map((offer) => offer.region);
}

function runWhereRoom(offers: readonly RegionOffer[], offpeak: boolean): Placement {
  const withRoom = offers.filter((offer) => offer.spareRoom > 0);
  return withRoom.length === 0
    ? { kind: 'wait', untilMs: undefined }
    : { kind: 'run', regions: cheapestFirst(withRoom), offpeak };
}

/**
 * `latestStartMs` is when the batch stops waiting for cheap hours: its deadline less the runway
 * its remaining lines need.
 */
export function placeLines(
  offers: readonly RegionOffer[],
  nowMs: number,
  latestStartMs: number,
): Placement {
  if (nowMs >= latestStartMs) {
    return runWhereRoom(offers, false);
  }
  const offpeakNow = offers.filter((offer) => offer.offpeakNow);
  if (offpeakNow.length > 0) {
    return runWhereRoom(offpeakNow, true);
  }
  let nextOffpeakAtMs: number | undefined;
  for (const offer of offers) {
    if (offer.nextOffpeakAtMs !== undefined) {
      nextOffpeakAtMs = Math.min(nextOffpeakAtMs ?? offer.nextOffpeakAtMs, offer.nextOffpeakAtMs);
    }
  }
  if (nextOffpeakAtMs !== undefined && nextOffpeakAtMs < latestStartMs) {
    return { kind: 'wait', untilMs: nextOffpeakAtMs };
  }
  return runWhereRoom(offers, false);
}

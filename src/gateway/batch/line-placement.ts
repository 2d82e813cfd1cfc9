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

/** How fast a batch's lines go: what decides how long before its deadline it must start. */
export type BatchPace = {
  linesLeft: number;
  /** A line's mean run time, as measured (or assumed before any has run). */
  lineMsMean: number;
  /** Lines that run at once at most. */
  linesAtOnce: number;
  /** The least runway, whatever the pace says. */
  runwayMinMs: number;
};

/** Weight of the newest line in the mean run time. */
const paceSmoothing = 0.1;

/** The mean run time of a line once one more ran for `sampleMs`. */
export function nextLineMsMean(meanMs: number, sampleMs: number): number {
  return meanMs + (Math.max(0, sampleMs) - meanMs) * paceSmoothing;
}

/**
 * When a batch stops waiting for cheap hours: its deadline less the time its lines left need at
 * its pace, doubled (room may be scarcer than the cap allows), and never less than the minimum
 * runway. A bigger backlog starts sooner rather than expiring in its last hour.
 */
export function latestStartMs(expiresAtMs: number, pace: BatchPace): number {
  const needMs = Math.ceil((2 * pace.linesLeft * pace.lineMsMean) / Math.max(1, pace.linesAtOnce));
  return expiresAtMs - Math.max(pace.runwayMinMs, needMs);
}

/** `latestStartMs` is when the batch stops waiting for cheap hours (the function above). */
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

/**
 * How busy one backend is, as the router estimates it (DESIGN.md §5): its scraped running and
 * waiting requests plus what this gateway sent and saw end since that scrape, or, when the
 * scrape is stale or incomplete, the gateways' own in-flight count. Scraped numbers include
 * other gateways' requests, so they are never trusted below what this gateway alone has there.
 *
 * With several replicas sharing counts (Redis), the other replicas' requests in flight here are
 * added the same way: all of them when there is no fresh scrape, and their change since the
 * scrape when there is one. When their counts are not heard (Redis down) while other replicas
 * are known to route here too, this gateway's count stands for each of them on a backend without
 * a fresh scrape: a backend whose load nobody measures is not emptier than the measured ones
 * because one gateway sees only its own share of it.
 *
 * A page that repeats itself exactly while it shows requests decoding is a frozen exporter, not
 * news: it keeps the age of the scrape it repeats, so it goes stale like a page that stopped
 * answering, and the dispatches since keep correcting it meanwhile.
 */
import type { Limits } from '../../config.ts';
import type { ScrapedLoad } from '../health/scraped-load.ts';

export type ScrapeSchedule = {
  nextAtMs: number;
  /** Scrapes failed in a row: each doubles the wait before the next. */
  failureCount: number;
  lastError: string | undefined;
};

export type BackendLoad = {
  scraped: ScrapedLoad | undefined;
  scrapedAtMs: number | undefined;
  /** Attempts this gateway sent to the backend since the scrape. */
  dispatchedSinceScrape: number;
  /** Attempts of this gateway on the backend that ended since the scrape. */
  endedSinceScrape: number;
  /** The most requests the server was seen running at once. */
  runningPeak: number;
  /** The other replicas' requests in flight here, as last shared; 0 without peers. */
  peersInFlight: number;
  /** The last round of the exchange told the peers' counts (false alone, or with Redis down). */
  peersHeard: boolean;
  /** The same at the time of the scrape, which already counted them. */
  peersInFlightAtScrape: number;
  scrape: ScrapeSchedule;
};

export type LoadSettings = Pick<Limits, 'metricsStaleMs' | 'backendQueueBps'>;

/** The part of a pooled backend this file reads. */
export type LoadedBackend = {
  record: { slots: number };
  inFlight: number;
  load: BackendLoad;
};

export function createBackendLoad(): BackendLoad {
  return {
    scraped: undefined,
    scrapedAtMs: undefined,
    dispatchedSinceScrape: 0,
    endedSinceScrape: 0,
    runningPeak: 0,
    peersInFlight: 0,
    peersHeard: false,
    peersInFlightAtScrape: 0,
    scrape: { nextAtMs: 0, failureCount: 0, lastError: undefined },
  };
}

/**
 * Takes a new scrape: the gateway's own counts restart from it. A frozen page (a repeat of the
 * last one although it shows requests decoding) is not taken: the earlier scrape keeps its age.
 * Returns whether the scrape was taken.
 */
export function recordScrapedLoad(load: BackendLoad, scraped: ScrapedLoad, atMs: number): boolean {
  if (load.scraped !== undefined && isFrozenRepeat(load.scraped, scraped)) {
    return false;
  }
  load.scraped = scraped;
  load.scrapedAtMs = atMs;
  load.dispatchedSinceScrape = 0;
  load.endedSinceScrape = 0;
  load.peersInFlightAtScrape = load.peersInFlight;
  load.runningPeak = Math.max(load.runningPeak, scraped.running ?? 0);
  return true;
}

/**
 * The same numbers as the previous page although it said requests were running and it counts
 * decode time per token: a server that decodes adds to those totals with every token, so between
 * two scrapes they move unless the exporter is stuck. Per-answer totals (SGLang's, TGI's) move
 * only when an answer ends, so a repeat of them proves nothing.
 */
function isFrozenRepeat(previous: ScrapedLoad, scraped: ScrapedLoad): boolean {
  if ((previous.running ?? 0) === 0 || !countsEveryToken(previous)) {
    return false;
  }
  if (
    previous.running !== scraped.running ||
    previous.waiting !== scraped.waiting ||
    previous.kvCacheUsage !== scraped.kvCacheUsage ||
    previous.decoding.size !== scraped.decoding.size
  ) {
    return false;
  }
  for (const [label, totals] of previous.decoding) {
    const now = scraped.decoding.get(label);
    if (now === undefined || now.seconds !== totals.seconds || now.count !== totals.count) {
      return false;
    }
  }
  return true;
}

function countsEveryToken(scraped: ScrapedLoad): boolean {
  for (const totals of scraped.decoding.values()) {
    if (totals.perToken) {
      return true;
    }
  }
  return false;
}

/** The scraped load when it is fresh and counts both running and waiting requests. */
export function freshScrapedLoad(
  load: BackendLoad,
  nowMs: number,
  staleMs: number,
): ScrapedLoad | undefined {
  const scraped = load.scraped;
  if (
    scraped === undefined ||
    load.scrapedAtMs === undefined ||
    nowMs - load.scrapedAtMs > staleMs ||
    scraped.running === undefined ||
    scraped.waiting === undefined
  ) {
    return undefined;
  }
  return scraped;
}

/**
 * Requests on the backend now: running and waiting, including this gateway's. `replicaCount`,
 * the gateways routing here (this one included), scales this gateway's count on a backend
 * without a fresh scrape when the peers' own counts were not heard.
 */
export function occupancyOf(
  backend: LoadedBackend,
  nowMs: number,
  staleMs: number,
  replicaCount = 1,
): number {
  const { load } = backend;
  const gatewaysInFlight = backend.inFlight + load.peersInFlight;
  const scraped = freshScrapedLoad(load, nowMs, staleMs);
  if (scraped === undefined) {
    return load.peersHeard ? gatewaysInFlight : backend.inFlight * Math.max(1, replicaCount);
  }
  const corrected =
    (scraped.running ?? 0) +
    (scraped.waiting ?? 0) +
    load.dispatchedSinceScrape -
    load.endedSinceScrape +
    (load.peersInFlight - load.peersInFlightAtScrape);
  return Math.max(gatewaysInFlight, corrected);
}

/**
 * Declared slots, or more when the server was seen running more at once (a provider that left
 * the default of 8 in front of a vLLM that batches 256).
 */
export function slotsOf(backend: LoadedBackend): number {
  return Math.max(backend.record.slots, backend.load.runningPeak);
}

/**
 * The batch the server runs now: while requests wait at a fresh scrape it is full at what it
 * runs (the KV cache may bind before the slots do); otherwise its slots.
 */
export function batchNowOf(backend: LoadedBackend, nowMs: number, staleMs: number): number {
  const scraped = freshScrapedLoad(backend.load, nowMs, staleMs);
  if (scraped?.waiting !== undefined && scraped.waiting > 0 && scraped.running !== undefined) {
    return Math.max(1, scraped.running);
  }
  return slotsOf(backend);
}

/** Below slots x (1 + backendQueueBps / 10,000) requests: it may take one more. */
export function hasRoom(backend: LoadedBackend, nowMs: number, settings: LoadSettings): boolean {
  return (
    occupancyOf(backend, nowMs, settings.metricsStaleMs) * 10_000 <
    slotsOf(backend) * (10_000 + settings.backendQueueBps)
  );
}

/**
 * Requests work that can wait (batch lines) may still send to the backend now: what is free
 * below the share of its slots such work may fill, the rest being kept for interactive requests.
 * Never negative; 0 for a backend that has no room at all.
 */
export function spareRoomOf(
  backend: LoadedBackend,
  nowMs: number,
  settings: LoadSettings,
  interactiveReserveBps: number,
): number {
  const usable = Math.floor((slotsOf(backend) * (10_000 - interactiveReserveBps)) / 10_000);
  return Math.max(0, usable - Math.ceil(occupancyOf(backend, nowMs, settings.metricsStaleMs)));
}

/**
 * The cross-cycle scheduler of the simulation: one batch whose lines one simulated gateway sends
 * the way src/gateway/batch/batch-scheduler.ts does, with the production decisions. Each region
 * offers the spare room of its routable backends as that gateway sees them (`BackendPool.spareRoom`,
 * i.e. `spareRoomOf`: slots less the interactive reserve less occupancy) at its price and window
 * at that moment of the compressed day; `placeLines` says where lines run, or that they wait.
 * Lines take only that room, narrowed to the backends that have it, and never wait in the
 * capacity queue; at most N run at once; a line that ends offers its room again at once, and the
 * scheduler also looks every tick. At the deadline the lines not started expire.
 */
import {
  latestStartMs,
  nextLineMsMean,
  placeLines,
  type RegionOffer,
} from '../../src/gateway/batch/line-placement.ts';
import { type BatchScenario, day } from './batch-scenarios.ts';
import type { EventQueue } from './event-queue.ts';
import {
  model,
  type RequestOutcome,
  type RequestRecord,
  type SimulatedGateway,
} from './simulated-gateway.ts';
import { listMultiplierBps, type TariffBook } from './tariff-book.ts';
import type { TraceRequest } from './workload.ts';

export type LineEnding = {
  line: TraceRequest;
  region: string;
  admittedAtClockMs: number;
  multiplierBps: number;
  /** Virtual time of the simulation. */
  endedAtMs: number;
  outcome: RequestOutcome;
};

export type BatchTally = {
  lineCount: number;
  endings: LineEnding[];
  expiredCount: number;
  /** Virtual times between which at least one line ran. */
  busyIntervals: [number, number][];
};

export type BatchSchedulerSetup = {
  scenario: BatchScenario;
  gateway: SimulatedGateway;
  events: EventQueue;
  tariffs: TariffBook;
  lines: readonly TraceRequest[];
};

export class SimulatedBatchScheduler {
  readonly #setup: BatchSchedulerSetup;
  readonly #pending: TraceRequest[];
  readonly #expiresAtClockMs = day.submittedAtMs + day.completionWindowMs;
  readonly #tally: BatchTally;
  #runningCount = 0;
  #busySinceMs = 0;
  /** A line's mean run time on the day's clock, measured as lines end (as the scheduler does). */
  #lineClockMsMean: number;

  constructor(setup: BatchSchedulerSetup) {
    this.#setup = setup;
    this.#pending = [...setup.lines].reverse();
    this.#lineClockMsMean = setup.scenario.lineClockMsEstimate;
    this.#tally = {
      lineCount: setup.lines.length,
      endings: [],
      expiredCount: 0,
      busyIntervals: [],
    };
  }

  get tally(): BatchTally {
    return this.#tally;
  }

  /** Ticks from the submission until no line is left to start or running. */
  start(): void {
    const { events, scenario } = this.#setup;
    const tick = () => {
      this.#dispatch();
      if (this.#pending.length > 0 || this.#runningCount > 0) {
        events.after(scenario.tickMs, tick);
      }
    };
    events.after(0, tick);
  }

  #dispatch(): void {
    const { events, scenario } = this.#setup;
    const nowMs = events.nowMs();
    const clockMs = day.clockMsAt(nowMs);
    if (clockMs >= this.#expiresAtClockMs) {
      this.#tally.expiredCount += this.#pending.length;
      this.#pending.length = 0;
      return;
    }
    let budget = scenario.linesInFlightMax - this.#runningCount;
    if (budget <= 0 || this.#pending.length === 0) {
      return;
    }
    const offers = this.#offers(nowMs, clockMs);
    const placement = placeLines(
      offers,
      clockMs,
      latestStartMs(this.#expiresAtClockMs, {
        linesLeft: this.#pending.length + this.#runningCount,
        lineMsMean: this.#lineClockMsMean,
        linesAtOnce: scenario.linesInFlightMax,
        runwayMinMs: scenario.deadlineRunwayMs,
      }),
    );
    if (placement.kind !== 'run') {
      return;
    }
    const roomLeft = new Map(offers.map((offer) => [offer.region, offer.spareRoom]));
    for (; budget > 0; budget -= 1) {
      const region = placement.regions.find((each) => (roomLeft.get(each) ?? 0) > 0);
      if (region === undefined) {
        return;
      }
      const line = this.#pending.pop();
      if (line === undefined) {
        return;
      }
      roomLeft.set(region, (roomLeft.get(region) ?? 0) - 1);
      this.#launch(line, region, clockMs);
    }
  }

  /** What each region offers the batch now, as `offersFor` in the scheduler reads it. */
  #offers(nowMs: number, clockMs: number): RegionOffer[] {
    const { gateway, scenario, tariffs } = this.#setup;
    const roomByRegion = new Map<string, number>();
    for (const backend of gateway.pool.serving(model)) {
      const room = gateway.pool.isRoutable(backend, nowMs)
        ? gateway.pool.spareRoom(backend, nowMs, scenario.interactiveReserveBps)
        : 0;
      const region = backend.record.region;
      roomByRegion.set(region, (roomByRegion.get(region) ?? 0) + room);
    }
    const offers: RegionOffer[] = [];
    for (const [region, spareRoom] of roomByRegion) {
      const price = tariffs.priceAt(region, clockMs);
      if (price !== undefined) {
        offers.push({
          region,
          spareRoom,
          unitPriceMicro: price.unitPriceMicro,
          offpeakNow: price.multiplierBps < listMultiplierBps,
          nextOffpeakAtMs: price.nextOffpeakAtMs,
        });
      }
    }
    return offers;
  }

  #launch(line: TraceRequest, region: string, clockMs: number): void {
    const { events, gateway, scenario, tariffs } = this.#setup;
    const nowMs = events.nowMs();
    const multiplierBps = tariffs.priceAt(region, clockMs)?.multiplierBps ?? listMultiplierBps;
    if (this.#runningCount === 0) {
      this.#busySinceMs = nowMs;
    }
    this.#runningCount += 1;
    gateway.receive(
      { ...line, arrivalMs: nowMs, clientRegion: gateway.region },
      {
        narrow: (allowed) =>
          allowed.filter(
            (backend) =>
              backend.record.region === region &&
              gateway.pool.isRoutable(backend, nowMs) &&
              gateway.pool.spareRoom(backend, nowMs, scenario.interactiveReserveBps) > 0,
          ),
        record: (record) => this.#ended(line, region, clockMs, multiplierBps, record),
      },
    );
  }

  #ended(
    line: TraceRequest,
    region: string,
    admittedAtClockMs: number,
    multiplierBps: number,
    record: RequestRecord,
  ): void {
    const nowMs = this.#setup.events.nowMs();
    this.#runningCount -= 1;
    if (this.#runningCount === 0) {
      this.#tally.busyIntervals.push([this.#busySinceMs, nowMs]);
    }
    if (record.attempts === 0) {
      // Never started for want of room: back to pending, for the next tick (as `requeued`).
      this.#pending.push(line);
      return;
    }
    const ranClockMs = day.clockMsAt(nowMs) - admittedAtClockMs;
    this.#lineClockMsMean = nextLineMsMean(this.#lineClockMsMean, ranClockMs);
    this.#tally.endings.push({
      line,
      region,
      admittedAtClockMs,
      multiplierBps,
      endedAtMs: nowMs,
      outcome: record.outcome,
    });
    this.#dispatch();
  }
}

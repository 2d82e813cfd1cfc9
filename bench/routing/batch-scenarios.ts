/**
 * The scenarios of the cross-cycle batch benchmark (issue 13): one day of the routing bench's
 * heterogeneous three-region pool compressed into a few minutes of virtual time, an interactive
 * load that peaks by day in each region's local time, each region's price and night-time
 * off-peak window, and a backlog submitted at the start with 24 hours to finish. The variants
 * change the interactive reserve, the backlog and the lines in flight, to show the trade-off.
 */
import type { OffpeakTerms } from '../../src/billing/offpeak.ts';
import { limitsSchema } from '../../src/config.ts';
import { heterogeneousPool, type Scenario } from './scenarios.ts';

/**
 * A region's clients' time zone and its price: list per million tokens in micro-units (500_000n
 * is 0.50), and its off-peak window.
 */
export type RegionTariff = OffpeakTerms & {
  region: string;
  timeZone: string;
  inputPerMillionMicro: bigint;
  outputPerMillionMicro: bigint;
};

export const tariffs: readonly RegionTariff[] = [
  {
    region: 'us-east',
    timeZone: 'America/New_York',
    inputPerMillionMicro: 500_000n,
    outputPerMillionMicro: 1_500_000n,
    offpeakStart: '00:00',
    offpeakEnd: '06:00',
    offpeakTimezone: 'America/New_York',
    offpeakMultiplierBps: 7_000,
  },
  {
    region: 'eu-west',
    timeZone: 'Europe/Paris',
    inputPerMillionMicro: 500_000n,
    outputPerMillionMicro: 1_500_000n,
    offpeakStart: '23:00',
    offpeakEnd: '07:00',
    offpeakTimezone: 'Europe/Paris',
    offpeakMultiplierBps: 6_000,
  },
  {
    region: 'ap-south',
    timeZone: 'Asia/Kolkata',
    inputPerMillionMicro: 400_000n,
    outputPerMillionMicro: 1_200_000n,
    offpeakStart: '22:00',
    offpeakEnd: '06:00',
    offpeakTimezone: 'Asia/Kolkata',
    offpeakMultiplierBps: 5_000,
  },
];

const hourMs = 3_600_000;

/**
 * The compressed day: the batch is submitted at `submittedAtMs` on the wall clock (noon UTC on a
 * day without a daylight saving change in any region) with 24 hours to finish, and one virtual
 * millisecond of the simulation is `compression` wall-clock milliseconds for prices, windows and
 * the interactive curve. Backends and networks keep their real speed.
 */
export const day = {
  submittedAtMs: Date.UTC(2025, 0, 15, 12, 0),
  completionWindowMs: 24 * hourMs,
  simulatedMs: 480_000,
  get compression(): number {
    return this.completionWindowMs / this.simulatedMs;
  },
  /** The wall-clock time at a virtual time of the simulation. */
  clockMsAt(simulatedMs: number): number {
    return this.submittedAtMs + simulatedMs * this.compression;
  },
  /** The virtual time at a wall-clock time. */
  simulatedMsAt(clockMs: number): number {
    return (clockMs - this.submittedAtMs) / this.compression;
  },
};

/** The interactive arrival rate in a region, as a share of its rate at the local peak. */
export const diurnal = {
  /** Quietest local hour, and the share of the peak rate then. */
  troughHour: 3,
  troughShare: 0.12,
  /** Sharpens the day's hump: the rate stays near the trough from late evening to morning. */
  sharpness: 1.5,
};

export const interactiveScenario: Scenario = {
  name: 'batch-day',
  title: 'Heterogeneous pool, one compressed day, diurnal load by local time',
  backends: heterogeneousPool,
  /** Offered load at a region's local peak, as a share of the whole pool's capacity. */
  load: 0.8,
  arrival: 'poisson',
  regionShares: { 'us-east': 0.4, 'eu-west': 0.3, 'ap-south': 0.3 },
  residency: { region: 'eu-west', share: 0.15 },
  replicasPerRegion: 1,
  faults: [],
  /** Judged by the batch table's own target (interactive TTFT p99 within 10%), not these. */
  targets: [],
  scrapeIntervalMs: 250,
  routers: ['ours'],
  durationMs: day.simulatedMs,
  warmupMs: 5_000,
};

export type BatchScenario = {
  name: string;
  title: string;
  lineCount: number;
  /** The gateway (region) whose scheduler sends the lines: the tenant's home. */
  schedulerRegion: string;
  interactiveReserveBps: number;
  linesInFlightMax: number;
  deadlineRunwayMs: number;
  /** A line's run time on the day's clock assumed until lines have been measured. */
  lineClockMsEstimate: number;
  tickMs: number;
};

const limits = limitsSchema.parse({});

const defaults: BatchScenario = {
  name: 'batch-defaults',
  title: 'Defaults: 25% reserve, 64 lines in flight',
  lineCount: 4_000,
  schedulerRegion: 'eu-west',
  interactiveReserveBps: limits.batchInteractiveReserveBps,
  linesInFlightMax: limits.batchLinesInFlightMax,
  deadlineRunwayMs: limits.batchDeadlineRunwayS * 1000,
  lineClockMsEstimate: limits.batchLineSecondsEstimate * 1000,
  tickMs: limits.batchTickMs,
};

export function batchScenarios(): BatchScenario[] {
  return [
    defaults,
    {
      ...defaults,
      name: 'batch-reserve-50',
      title: '50% reserve',
      interactiveReserveBps: 5_000,
    },
    {
      ...defaults,
      name: 'batch-reserve-0',
      title: 'No reserve',
      interactiveReserveBps: 0,
    },
    {
      ...defaults,
      name: 'batch-256-in-flight',
      title: '256 lines in flight, 25% reserve',
      linesInFlightMax: 256,
    },
    {
      ...defaults,
      name: 'batch-256-reserve-0',
      title: '256 lines in flight, no reserve',
      linesInFlightMax: 256,
      interactiveReserveBps: 0,
    },
    {
      ...defaults,
      name: 'batch-backlog-2x',
      title: 'Backlog doubled',
      lineCount: 2 * defaults.lineCount,
    },
  ];
}

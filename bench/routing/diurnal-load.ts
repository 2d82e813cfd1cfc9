/**
 * The day's curve of interactive traffic: each region's clients send most by day in their own
 * time zone. A Poisson trace drawn at the peak rate is thinned (each request kept with the
 * probability of the curve at its arrival, Lewis and Shedler's method), which gives the
 * time-varying Poisson process while every request kept is one the constant-rate generator drew.
 */

import { localMinutes } from '../../src/billing/offpeak.ts';
import { createSeededRandom } from '../../src/platform/random.ts';
import { day, diurnal, type RegionTariff } from './batch-scenarios.ts';
import type { TraceRequest } from './workload.ts';

const minuteMs = 60_000;
const dayMinutes = 24 * 60;

/** The share of its peak rate a region's clients send at a local hour (0-24, fractional). */
export function diurnalShare(localHour: number): number {
  const phase = (2 * Math.PI * (localHour - diurnal.troughHour)) / 24;
  const hump = ((1 - Math.cos(phase)) / 2) ** diurnal.sharpness;
  return diurnal.troughShare + (1 - diurnal.troughShare) * hump;
}

/**
 * Keeps each request with the share of the peak its client region sends at its arrival. Each
 * region's offset from UTC is read once at submission: the day has no daylight saving change.
 */
export function thinToDiurnal(
  trace: readonly TraceRequest[],
  regionTariffs: readonly RegionTariff[],
  seed: number,
): TraceRequest[] {
  const keep = createSeededRandom(seed * 7919 + 11);
  const minutesAtStart = new Map(
    regionTariffs.map((tariff) => [
      tariff.region,
      localMinutes(day.submittedAtMs, tariff.timeZone),
    ]),
  );
  return trace.filter((request) => {
    const startMinutes = minutesAtStart.get(request.clientRegion) ?? 0;
    const elapsedMinutes = (day.clockMsAt(request.arrivalMs) - day.submittedAtMs) / minuteMs;
    const minuteOfDay = (((startMinutes + elapsedMinutes) % dayMinutes) + dayMinutes) % dayMinutes;
    return keep() < diurnalShare(minuteOfDay / 60);
  });
}

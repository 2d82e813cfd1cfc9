/**
 * The router's averages, which forget with time. A sample moves an average by a fixed weight; a
 * rate counts hits and samples whose weight halves every half-life, so a backend that nobody has
 * tried for a while drifts back towards the prior instead of being judged forever by its past
 * (the decay of Finagle's and Linkerd's PeakEWMA, research/routing.md §3.3).
 */

/** The weight left to a memory `elapsedMs` old. */
export function decayFactor(elapsedMs: number, halfLifeMs: number): number {
  return elapsedMs <= 0 ? 1 : 2 ** (-elapsedMs / halfLifeMs);
}

/** The average moved towards `sample` by `weight`; the first sample is taken as it is. */
export function movedAverage(previous: number | undefined, sample: number, weight: number): number {
  return previous === undefined ? sample : previous + weight * (sample - previous);
}

/** Hits among samples, both fading with time. */
export type DecayingRate = { hits: number; samples: number; updatedAtMs: number };

export function createDecayingRate(): DecayingRate {
  return { hits: 0, samples: 0, updatedAtMs: 0 };
}

export function recordRateSample(
  rate: DecayingRate,
  hit: boolean,
  atMs: number,
  halfLifeMs: number,
): void {
  const factor = decayFactor(atMs - rate.updatedAtMs, halfLifeMs);
  rate.hits = rate.hits * factor + (hit ? 1 : 0);
  rate.samples = rate.samples * factor + 1;
  rate.updatedAtMs = Math.max(rate.updatedAtMs, atMs);
}

/**
 * The share of hits, with `priorSamples` misses added: one failure among no other evidence reads
 * as 1 / (1 + prior), not as certainty, and no evidence at all reads as 0.
 */
export function rateOf(
  rate: DecayingRate,
  nowMs: number,
  halfLifeMs: number,
  priorSamples: number,
): number {
  const factor = decayFactor(nowMs - rate.updatedAtMs, halfLifeMs);
  return (rate.hits * factor) / (rate.samples * factor + priorSamples);
}

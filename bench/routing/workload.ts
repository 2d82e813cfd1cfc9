/**
 * The request trace of one simulation run, drawn up front from the seed so that every router
 * sees exactly the same requests (common random numbers): arrival times (Poisson, or bursty with
 * gamma gaps of coefficient of variation 3), the client's region and residency, heavy-tailed
 * lognormal prompt and output lengths, the gateway replica it lands on, and the network jitter
 * of its round trips.
 */
import { createSeededRandom, type Random } from '../../src/platform/random.ts';

export type LengthDistribution = { median: number; sigma: number; max: number };

export type WorkloadSpec = {
  durationMs: number;
  requestsPerSecond: number;
  arrival: 'poisson' | 'bursty';
  /** Share of requests per client region; they add up to 1. */
  regionShares: Record<string, number>;
  /** Requests that may only be served in this region, as a share of all requests. */
  residency: { region: string; share: number } | undefined;
  replicasPerRegion: number;
  prompt: LengthDistribution;
  output: LengthDistribution;
};

export type TraceRequest = {
  index: number;
  arrivalMs: number;
  clientRegion: string;
  allowedRegions: readonly string[] | null;
  replica: number;
  promptTokens: number;
  outputTokens: number;
  /** Multiplies each round trip of this request (lognormal, sigma 0.2). */
  networkJitter: number;
};

const burstyVariation = 3;

export function generateTrace(spec: WorkloadSpec, seed: number): TraceRequest[] {
  const arrivals = createSeededRandom(seed * 7919 + 1);
  const shapes = createSeededRandom(seed * 7919 + 2);
  const placement = createSeededRandom(seed * 7919 + 3);
  const meanGapMs = 1000 / spec.requestsPerSecond;
  const regions = Object.entries(spec.regionShares);
  const requests: TraceRequest[] = [];
  let arrivalMs = 0;
  for (let index = 0; ; index += 1) {
    arrivalMs +=
      spec.arrival === 'poisson'
        ? exponential(arrivals, meanGapMs)
        : gamma(arrivals, 1 / burstyVariation ** 2) * meanGapMs * burstyVariation ** 2;
    if (arrivalMs >= spec.durationMs) {
      return requests;
    }
    const residency = spec.residency;
    const restricted = residency !== undefined && placement() < residency.share;
    const clientRegion =
      restricted && residency ? residency.region : pickShare(regions, placement());
    requests.push({
      index,
      arrivalMs,
      clientRegion,
      allowedRegions: restricted && residency ? [residency.region] : null,
      replica: Math.floor(placement() * spec.replicasPerRegion),
      promptTokens: lognormal(shapes, spec.prompt),
      outputTokens: lognormal(shapes, spec.output),
      networkJitter: Math.exp(0.2 * normal(shapes)),
    });
  }
}

/** The mean of a capped lognormal, by quadrature: for sizing the offered load. */
export function meanLength(distribution: LengthDistribution): number {
  const random = createSeededRandom(12_345);
  let total = 0;
  const samples = 20_000;
  for (let index = 0; index < samples; index += 1) {
    total += lognormal(random, distribution);
  }
  return total / samples;
}

function pickShare(shares: readonly [string, number][], draw: number): string {
  let cumulative = 0;
  for (const [region, share] of shares) {
    cumulative += share;
    if (draw < cumulative) {
      return region;
    }
  }
  return shares.at(-1)?.[0] ?? 'none';
}

function exponential(random: Random, meanMs: number): number {
  return -Math.log(1 - random()) * meanMs;
}

function normal(random: Random): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

function lognormal(random: Random, distribution: LengthDistribution): number {
  const value = distribution.median * Math.exp(distribution.sigma * normal(random));
  return Math.max(1, Math.min(distribution.max, Math.round(value)));
}

/** Marsaglia and Tsang's method, with the boost for shapes below 1; mean = shape. */
function gamma(random: Random, shape: number): number {
  if (shape < 1) {
    return gamma(random, shape + 1) * (1 - random()) ** (1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = normal(random);
    const v = (1 + c * x) ** 3;
    if (v > 0 && Math.log(1 - random()) < 0.5 * x * x + d - d * v + d * Math.log(v)) {
      return d * v;
    }
  }
}

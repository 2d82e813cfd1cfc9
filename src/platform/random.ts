/**
 * Seeded pseudo-random numbers. Routing tie-breaks, fault injection and simulations draw from an
 * injected `Random` so that tests and benchmarks replay exactly from a seed.
 */

/** Returns a float in [0, 1). */
export type Random = () => number;

/** mulberry32: tiny, fast and good enough for load balancing and simulations (not for secrets). */
export function createSeededRandom(seed: number): Random {
  let state = seed >>> 0;
  return function next(): number {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [0, countMax). */
export function randomIndex(random: Random, countMax: number): number {
  return Math.floor(random() * countMax);
}

import { describe, expect, it } from 'vitest';
import {
  createDecayingRate,
  decayFactor,
  movedAverage,
  rateOf,
  recordRateSample,
} from './decaying-average.ts';

describe('decaying averages', () => {
  it('halves a memory every half-life', () => {
    expect(decayFactor(0, 1_000)).toBe(1);
    expect(decayFactor(1_000, 1_000)).toBeCloseTo(0.5);
    expect(decayFactor(3_000, 1_000)).toBeCloseTo(0.125);
  });

  it('takes the first sample as it is and moves by the weight after', () => {
    expect(movedAverage(undefined, 10, 0.2)).toBe(10);
    expect(movedAverage(10, 20, 0.2)).toBeCloseTo(12);
  });

  it('reads no evidence as 0 and one failure as half, then forgets it', () => {
    const rate = createDecayingRate();
    expect(rateOf(rate, 0, 1_000, 1)).toBe(0);
    recordRateSample(rate, true, 0, 1_000);
    expect(rateOf(rate, 0, 1_000, 1)).toBeCloseTo(0.5);
    expect(rateOf(rate, 1_000, 1_000, 1)).toBeCloseTo(1 / 3);
    expect(rateOf(rate, 20_000, 1_000, 1)).toBeLessThan(0.001);
  });

  it('weighs recent samples over old ones', () => {
    const rate = createDecayingRate();
    for (let second = 0; second < 10; second += 1) {
      recordRateSample(rate, true, second * 1_000, 1_000);
    }
    for (let second = 10; second < 20; second += 1) {
      recordRateSample(rate, false, second * 1_000, 1_000);
    }
    expect(rateOf(rate, 20_000, 1_000, 1)).toBeLessThan(0.01);
  });
});

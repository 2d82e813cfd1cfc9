import { describe, expect, it } from 'vitest';
import { payoutBpsAt } from './payout-rates.ts';

const schedule = {
  baseBps: 7_000,
  versions: [
    { version: 1, payoutBps: 7_500, effectiveAtMs: 1_000 },
    { version: 3, payoutBps: 6_000, effectiveAtMs: 5_000 },
    { version: 2, payoutBps: 8_000, effectiveAtMs: 5_000 },
  ],
};

describe('payoutBpsAt', () => {
  it('is the base rate before the first version', () => {
    expect(payoutBpsAt(schedule, 999)).toBe(7_000);
    expect(payoutBpsAt({ baseBps: 5_000, versions: [] }, 10_000)).toBe(5_000);
  });

  it('is a version from its effective time on, until a later one takes over', () => {
    expect(payoutBpsAt(schedule, 1_000)).toBe(7_500);
    expect(payoutBpsAt(schedule, 4_999)).toBe(7_500);
  });

  it('takes the later version of two effective at the same time', () => {
    expect(payoutBpsAt(schedule, 5_000)).toBe(6_000);
    expect(payoutBpsAt(schedule, 9_000)).toBe(6_000);
  });
});

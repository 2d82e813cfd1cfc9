import { describe, expect, it } from 'vitest';
import { refundParts } from './lease-operation.ts';
import { deliveredHours, hourMs, type LeaseTerm, leaseLine, leaseOutcome } from './lease-terms.ts';

const term: LeaseTerm = {
  startsAtMs: 10 * hourMs,
  hours: 4,
  cardHourMicro: 2_000_000n,
  backends: [
    { backendId: 'bkd_a', providerId: 'prv_1', accelerators: 2, failedAtMs: null },
    { backendId: 'bkd_b', providerId: 'prv_2', accelerators: 1, failedAtMs: null },
  ],
};

describe('lease terms', () => {
  it('charges every accelerator of its backends for every hour, as one card_hour line', () => {
    const line = leaseLine(term);

    expect(line).toMatchObject({ meter: 'card_hour', units: 3n * 4n * 3_600n });
    expect(line.costMicro).toBe(24_000_000n);
  });

  it('counts the hour a lease ends or a backend fails in as delivered', () => {
    const failed = { ...term.backends[1], failedAtMs: term.startsAtMs + hourMs + 1 };

    expect(deliveredHours(term, failed as never, term.startsAtMs + 4 * hourMs)).toBe(2);
    expect(deliveredHours(term, term.backends[0] as never, term.startsAtMs - 1)).toBe(0);
    expect(deliveredHours(term, term.backends[0] as never, term.startsAtMs + 9 * hourMs)).toBe(4);
  });

  it('refunds the unused whole hours of an early end; delivered and refunded add up to the cost', () => {
    const outcome = leaseOutcome(term, term.startsAtMs + hourMs + 60_000);

    expect(outcome.refundMicro).toBe(12_000_000n);
    expect(outcome.delivered).toEqual([
      { providerId: 'prv_1', valueMicro: 8_000_000n },
      { providerId: 'prv_2', valueMicro: 4_000_000n },
    ]);
  });

  it('refunds the hours after a backend failed, and only its own', () => {
    const failing: LeaseTerm = {
      ...term,
      backends: [
        term.backends[0] as LeaseTerm['backends'][number],
        { backendId: 'bkd_b', providerId: 'prv_2', accelerators: 1, failedAtMs: term.startsAtMs },
      ],
    };

    expect(leaseOutcome(failing, term.startsAtMs + 4 * hourMs).refundMicro).toBe(8_000_000n);
  });

  it('returns a refund to each payer pro rata, the rounding to the first', () => {
    const parts = refundParts(
      [
        { source: 'coupon', id: 'cpn_1', kind: 'compute', amountMicro: 1n },
        { source: 'wallet', id: null, kind: 'wallet', amountMicro: 2n },
      ],
      3n,
      2n,
    );

    expect(parts.map((part) => part.amountMicro)).toEqual([1n, 1n]);
  });
});

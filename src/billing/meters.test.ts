import { describe, expect, it } from 'vitest';
import {
  chargeLinesOf,
  costLinesHeader,
  meterLine,
  toStoredLines,
  transportLine,
} from './meters.ts';
import { planSettlementOfLines } from './settlement-plan.ts';
import { chargeLine, fundedGrant, grantTerms } from './test-grants.ts';
import { allocateLines } from './waterfall.ts';

const scope = { model: 'model-a', region: 'east', atMs: 1_000 };

describe('meter lines', () => {
  it('prices each meter per its own unit, rounded up once per line', () => {
    expect(meterLine('output', 3n, 1_000_000n).costMicro).toBe(3n);
    expect(transportLine({ bytes: 1_500, pricePerGbMicro: 1_000_000_000n }).costMicro).toBe(1_500n);
    // 1,000 bytes for an hour at 3.6e12 per GB-hour: 3.60.
    expect(meterLine('storage_gb_hour', 3_600_000n, 3_600_000_000_000n).costMicro).toBe(3_600_000n);
    expect(meterLine('transport_gb', 1n, 1n).costMicro).toBe(1n);
  });

  it('groups lines into one waterfall line per coupon kind, compute first', () => {
    const lines = [
      meterLine('input', 10n, 1_000_000n),
      transportLine({ bytes: 7, pricePerGbMicro: 1_000_000_000n }),
      meterLine('output', 5n, 1_000_000n),
    ];
    expect(chargeLinesOf(lines, scope)).toEqual([
      { ...scope, kind: 'compute', costMicro: 15n },
      { ...scope, kind: 'transport', costMicro: 7n },
    ]);
    const stored = toStoredLines(lines);
    expect(stored[1]).toEqual({
      meter: 'transport_gb',
      units: '0.000000007',
      price: '1000.00',
      cost: '0.000007',
    });
    expect(costLinesHeader(stored)).toBe('input=0.00001;transport_gb=0.000007;output=0.000005');
  });

  it('pays each kind from its own coupons, and the wallet from what the lines before left', () => {
    const grants = [
      fundedGrant({ id: 'compute', kind: 'compute' }, 4n),
      fundedGrant({ id: 'transport', kind: 'transport' }, 100n),
    ];
    const [compute, transport] = allocateLines(
      [chargeLine({ costMicro: 10n }), chargeLine({ kind: 'transport', costMicro: 5n })],
      grants,
      7n,
    );
    expect(compute).toEqual({
      coupons: [{ grantId: 'compute', amountMicro: 4n }],
      walletMicro: 6n,
      shortfallMicro: 0n,
    });
    expect(transport).toEqual({
      coupons: [{ grantId: 'transport', amountMicro: 5n }],
      walletMicro: 0n,
      shortfallMicro: 0n,
    });
  });

  it('settles several lines over one set of holds: a coupon hold pays only its kind', () => {
    const plan = planSettlementOfLines(
      [chargeLine({ costMicro: 6n }), chargeLine({ kind: 'transport', costMicro: 5n })],
      [
        { pending: 'compute', heldMicro: 4n, grant: grantTerms({ id: 'c', kind: 'compute' }) },
        { pending: 'transport', heldMicro: 3n, grant: grantTerms({ id: 't', kind: 'transport' }) },
        { pending: 'wallet', heldMicro: 3n, grant: undefined },
      ],
    );
    expect(plan.posts.map((post) => [post.pending, post.postMicro])).toEqual([
      ['compute', 4n],
      ['transport', 3n],
      ['wallet', 3n],
    ]);
    // Compute took 2 of the wallet's hold, transport the last 1 and 1 is left for a fresh waterfall.
    expect(plan.lines.map((line) => line.remainingMicro)).toEqual([0n, 1n]);
  });
});

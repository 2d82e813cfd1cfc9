import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type HeldLeg, planSettlement } from './settlement-plan.ts';
import { chargeLine, grantTerms } from './test-grants.ts';
import { type ChargeLine, type GrantTerms, isEligible } from './waterfall.ts';

const propertyRuns = { seed: 20_260_604, numRuns: 1_000 };

const terms = grantTerms;
const line = chargeLine;

function couponHold(heldMicro: bigint, grant: GrantTerms): HeldLeg<string> {
  return { pending: `hold:${grant.id}`, heldMicro, grant };
}

function walletHold(heldMicro: bigint): HeldLeg<string> {
  return { pending: 'hold:wallet', heldMicro, grant: undefined };
}

function postsOf(charge: ChargeLine, legs: HeldLeg<string>[]) {
  return planSettlement(charge, legs).posts.map((post) => [post.pending, post.postMicro]);
}

/** What a leg may post at most when nothing before it ran out: its hold, capped by coverage. */
function legRoom(charge: ChargeLine, leg: HeldLeg<string>, coveredBefore: bigint): bigint {
  if (!leg.grant) {
    return leg.heldMicro;
  }
  if (!isEligible({ ...leg.grant, status: 'active' }, charge)) {
    return 0n;
  }
  const coverageLeft = (charge.costMicro * BigInt(leg.grant.coverageBps)) / 10_000n - coveredBefore;
  const room = leg.heldMicro < coverageLeft ? leg.heldMicro : coverageLeft;
  return room < 0n ? 0n : room;
}

const grantIds = ['grant-a', 'grant-b', 'grant-c'] as const;

const heldLegs = fc
  .array(
    fc.record({
      heldMicro: fc.bigInt({ min: 1n, max: 3_000n }),
      grant: fc.option(
        fc.record({
          id: fc.constantFrom(...grantIds),
          coverageBps: fc.constantFrom(10_000, 5_000, 3_333, 1),
          models: fc.option(fc.constantFrom(['model-a'], ['model-b']), { nil: null }),
          regions: fc.option(fc.constantFrom(['east'], ['west']), { nil: null }),
          expiresAtMs: fc.option(fc.constantFrom(1_000, 1_001), { nil: null }),
          status: fc.constantFrom('active', 'voided', 'expired') as fc.Arbitrary<
            GrantTerms['status']
          >,
        }),
        { nil: undefined },
      ),
    }),
    { maxLength: 5 },
  )
  .map((rows) =>
    rows.map(
      (row, index): HeldLeg<string> => ({
        pending: `leg-${index}`,
        heldMicro: row.heldMicro,
        grant: row.grant && terms(row.grant),
      }),
    ),
  );

const charges = fc.record({
  kind: fc.constant('compute' as const),
  costMicro: fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 10_000n })),
  model: fc.constantFrom('model-a', 'model-b'),
  region: fc.constantFrom('east', 'west'),
  atMs: fc.constantFrom(999, 1_000),
});

describe('planSettlement', () => {
  it('posts the actual cost from the holds in order and frees the rest', () => {
    const plan = planSettlement(line({ costMicro: 700n }), [
      couponHold(400n, terms({ id: 'voucher' })),
      walletHold(600n),
    ]);
    expect(plan.posts.map((post) => post.postMicro)).toEqual([400n, 300n]);
    expect(plan.remainingMicro).toBe(0n);
    expect(plan.coveredMicro).toEqual(new Map([['voucher', 400n]]));
  });

  it('leaves what exceeds the holds for the fresh waterfall', () => {
    const plan = planSettlement(line({ costMicro: 1_500n }), [walletHold(1_000n)]);
    expect(plan.posts.map((post) => post.postMicro)).toEqual([1_000n]);
    expect(plan.remainingMicro).toBe(500n);
  });

  it('caps a voucher hold by its coverage of the actual cost, not of the estimate', () => {
    // Reserved on an estimate of 1,000: the 50% voucher held 500. The actual cost is 600.
    expect(
      postsOf(line({ costMicro: 600n }), [
        couponHold(500n, terms({ id: 'half', coverageBps: 5_000 })),
        walletHold(500n),
      ]),
    ).toEqual([
      ['hold:half', 300n],
      ['hold:wallet', 300n],
    ]);
  });

  it('still honours the hold of a coupon voided or expired after admission', () => {
    for (const status of ['voided', 'expired'] as const) {
      expect(postsOf(line(), [couponHold(1_000n, terms({ id: 'ended', status }))])).toEqual([
        ['hold:ended', 1_000n],
      ]);
    }
  });

  it('judges validity at admission, so a coupon expiring before settlement still pays', () => {
    const expiring = terms({ id: 'expiring', expiresAtMs: 1_001 });
    expect(postsOf(line({ atMs: 1_000 }), [couponHold(1_000n, expiring)])).toEqual([
      ['hold:expiring', 1_000n],
    ]);
  });

  it('posts nothing from a region-scoped hold when another region served the request', () => {
    const plan = planSettlement(line({ region: 'west' }), [
      couponHold(1_000n, terms({ id: 'east-only', regions: ['east'] })),
      walletHold(200n),
    ]);
    expect(plan.posts.map((post) => post.postMicro)).toEqual([0n, 200n]);
    expect(plan.remainingMicro).toBe(800n);
    expect(plan.coveredMicro.size).toBe(0);
  });

  it('posts nothing when nothing was used', () => {
    const plan = planSettlement(line({ costMicro: 0n }), [
      couponHold(10n, terms({ id: 'voucher' })),
      walletHold(10n),
    ]);
    expect(plan.posts.map((post) => post.postMicro)).toEqual([0n, 0n]);
    expect(plan.remainingMicro).toBe(0n);
  });

  it('refuses a negative cost', () => {
    expect(() => planSettlement(line({ costMicro: -1n }), [])).toThrow(/negative/);
  });

  it('splits the cost exactly into posts and what remains, each post within its hold', () => {
    fc.assert(
      fc.property(charges, heldLegs, (charge, legs) => {
        const plan = planSettlement(charge, legs);
        const posted = plan.posts.reduce((sum, post) => sum + post.postMicro, 0n);
        expect(posted + plan.remainingMicro).toBe(charge.costMicro);
        expect(plan.remainingMicro >= 0n).toBe(true);
        plan.posts.forEach((post, index) => {
          expect(post.pending).toBe(legs[index]?.pending);
          expect(post.postMicro >= 0n).toBe(true);
          expect(post.postMicro <= (legs[index]?.heldMicro ?? 0n)).toBe(true);
        });
      }),
      propertyRuns,
    );
  });

  it('lets no coupon hold pay outside its scope, kind, validity or coverage', () => {
    fc.assert(
      fc.property(charges, heldLegs, (charge, legs) => {
        const plan = planSettlement(charge, legs);
        const paidByGrant = new Map<string, bigint>();
        for (const post of plan.posts) {
          if (!post.grant || post.postMicro === 0n) {
            continue;
          }
          expect(isEligible({ ...post.grant, status: 'active' }, charge)).toBe(true);
          const paid = (paidByGrant.get(post.grant.id) ?? 0n) + post.postMicro;
          paidByGrant.set(post.grant.id, paid);
          expect(paid <= (charge.costMicro * BigInt(post.grant.coverageBps)) / 10_000n).toBe(true);
        }
        expect(plan.coveredMicro).toEqual(paidByGrant);
      }),
      propertyRuns,
    );
  });

  it('takes each earlier hold as far as it may before a later one or the fresh waterfall pays', () => {
    fc.assert(
      fc.property(charges, heldLegs, (charge, legs) => {
        const plan = planSettlement(charge, legs);
        const covered = new Map<string, bigint>();
        const rooms = legs.map((leg, index) => {
          const room = legRoom(charge, leg, leg.grant ? (covered.get(leg.grant.id) ?? 0n) : 0n);
          const post = plan.posts[index]?.postMicro ?? 0n;
          if (leg.grant) {
            covered.set(leg.grant.id, (covered.get(leg.grant.id) ?? 0n) + post);
          }
          return room;
        });
        const lastPaying = Math.max(
          plan.remainingMicro > 0n ? legs.length : -1,
          ...plan.posts.map((post, index) => (post.postMicro > 0n ? index : -1)),
        );
        plan.posts.forEach((post, index) => {
          if (index < lastPaying) {
            expect(post.postMicro).toBe(rooms[index]);
          }
        });
      }),
      propertyRuns,
    );
  });
});

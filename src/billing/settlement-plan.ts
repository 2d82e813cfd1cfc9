/**
 * Plans a settlement without touching any store. The actual cost is taken first from the
 * request's own holds, in the order they were reserved (the waterfall order), each coupon hold
 * only while the coupon may still pay this line (scope, kind, validity at admission, coverage);
 * what the holds cannot cover is left for a fresh waterfall, and what that cannot cover is the
 * write-off. The rest of every hold is freed.
 */
import { assert } from '../assert.ts';
import { shareOf } from './cost.ts';
import { type ChargeLine, type GrantTerms, isEligible, minimum } from './waterfall.ts';

export type HeldLeg<Pending> = {
  pending: Pending;
  heldMicro: bigint;
  /** The coupon of a coupon hold; undefined for the wallet. */
  grant: GrantTerms | undefined;
};

export type LegPost<Pending> = {
  pending: Pending;
  postMicro: bigint;
  grant: GrantTerms | undefined;
};

export type SettlementPlan<Pending> = {
  posts: LegPost<Pending>[];
  /** Still to pay after the holds: the fresh waterfall's job. */
  remainingMicro: bigint;
  /** What each coupon already paid of this line, so the fresh waterfall respects coverage. */
  coveredMicro: Map<string, bigint>;
};

export function planSettlement<Pending>(
  line: ChargeLine,
  legs: readonly HeldLeg<Pending>[],
): SettlementPlan<Pending> {
  assert(line.costMicro >= 0n, 'a cost is not negative');
  let remainingMicro = line.costMicro;
  const coveredMicro = new Map<string, bigint>();
  const posts = legs.map((leg): LegPost<Pending> => {
    let capMicro = remainingMicro;
    if (leg.grant) {
      // A grant voided or expired after admission still honours its holds: judge it as active.
      const eligible = isEligible({ ...leg.grant, status: 'active' }, line);
      const coverageLeft =
        shareOf(line.costMicro, leg.grant.coverageBps) - (coveredMicro.get(leg.grant.id) ?? 0n);
      capMicro = eligible ? minimum(capMicro, coverageLeft) : 0n;
    }
    const postMicro = minimum(leg.heldMicro, capMicro < 0n ? 0n : capMicro);
    remainingMicro -= postMicro;
    if (leg.grant && postMicro > 0n) {
      coveredMicro.set(leg.grant.id, (coveredMicro.get(leg.grant.id) ?? 0n) + postMicro);
    }
    return { pending: leg.pending, postMicro, grant: leg.grant };
  });
  return { posts, remainingMicro, coveredMicro };
}

/** The settlement of several lines (one per coupon kind) over the same holds. */
export type LinesSettlementPlan<Pending> = {
  /** One post per leg, in the legs' order: what all lines take of it together. */
  posts: LegPost<Pending>[];
  /** Per line, in order: what its holds could not cover, and what each coupon paid of it. */
  lines: { line: ChargeLine; remainingMicro: bigint; coveredMicro: Map<string, bigint> }[];
};

/**
 * Plans each line in turn over what the lines before it left of each hold: a coupon hold pays
 * only the line of its kind, the wallet's hold pays any line, first come first served.
 */
export function planSettlementOfLines<Pending>(
  lines: readonly ChargeLine[],
  legs: readonly HeldLeg<Pending>[],
): LinesSettlementPlan<Pending> {
  const takenMicro = legs.map(() => 0n);
  const planned = lines.map((line) => {
    const left = legs.map((leg, index) => ({
      ...leg,
      heldMicro: leg.heldMicro - (takenMicro[index] ?? 0n),
    }));
    const plan = planSettlement(line, left);
    plan.posts.forEach((post, index) => {
      takenMicro[index] = (takenMicro[index] ?? 0n) + post.postMicro;
    });
    return { line, remainingMicro: plan.remainingMicro, coveredMicro: plan.coveredMicro };
  });
  return {
    posts: legs.map((leg, index) => ({
      pending: leg.pending,
      postMicro: takenMicro[index] ?? 0n,
      grant: leg.grant,
    })),
    lines: planned,
  };
}

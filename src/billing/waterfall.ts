/**
 * The coupon waterfall (DESIGN.md §4), as pure functions shared by every ledger store. For one
 * charge line, eligible grants are taken in one total order, each up to its coverage cap, then the
 * wallet pays what is left; whatever the wallet cannot pay is the shortfall.
 */
import { shareOf } from './cost.ts';

export const couponKinds = ['compute', 'storage', 'transport'] as const;
export type CouponKind = (typeof couponKinds)[number];

export type GrantTerms = {
  id: string;
  kind: CouponKind;
  /** Basis points of each eligible charge the grant may pay. */
  coverageBps: number;
  /** null = every model. */
  models: readonly string[] | null;
  /** null = every region. */
  regions: readonly string[] | null;
  /** 0-100, lower first. */
  priority: number;
  startsAtMs: number;
  /** null = never expires. */
  expiresAtMs: number | null;
  createdAtMs: number;
  status: 'active' | 'voided' | 'expired';
};

export type FundedGrant = GrantTerms & { availableMicro: bigint };

export type ChargeLine = {
  kind: CouponKind;
  costMicro: bigint;
  model: string;
  region: string;
  /** Validity is judged at admission time, even when the charge settles later. */
  atMs: number;
};

export type CouponTake = { grantId: string; amountMicro: bigint };

export type Allocation = {
  coupons: CouponTake[];
  walletMicro: bigint;
  /** What neither coupons nor the wallet could pay. */
  shortfallMicro: bigint;
};

export function isEligible(grant: GrantTerms, line: ChargeLine): boolean {
  return (
    grant.status === 'active' &&
    grant.kind === line.kind &&
    grant.startsAtMs <= line.atMs &&
    (grant.expiresAtMs === null || line.atMs < grant.expiresAtMs) &&
    (grant.models === null || grant.models.includes(line.model)) &&
    (grant.regions === null || grant.regions.includes(line.region))
  );
}

/** How many scope dimensions restrict the grant, then how small they are: narrower first. */
function scopeRank(grant: GrantTerms): [number, number, number] {
  const restricted = (grant.models === null ? 0 : 1) + (grant.regions === null ? 0 : 1);
  return [-restricted, grant.models?.length ?? Infinity, grant.regions?.length ?? Infinity];
}

function compareNumbers(left: number, right: number): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

/**
 * priority asc, narrower scope first, expires-at asc (never-expiring last), valid-from asc,
 * created asc, id asc: a total order, so every store allocates identically.
 */
export function compareGrants(left: GrantTerms, right: GrantTerms): number {
  const [leftRestricted, leftModels, leftRegions] = scopeRank(left);
  const [rightRestricted, rightModels, rightRegions] = scopeRank(right);
  return (
    compareNumbers(left.priority, right.priority) ||
    compareNumbers(leftRestricted, rightRestricted) ||
    compareNumbers(leftModels, rightModels) ||
    compareNumbers(leftRegions, rightRegions) ||
    compareNumbers(left.expiresAtMs ?? Infinity, right.expiresAtMs ?? Infinity) ||
    compareNumbers(left.startsAtMs, right.startsAtMs) ||
    compareNumbers(left.createdAtMs, right.createdAtMs) ||
    (left.id < right.id ? -1 : left.id > right.id ? 1 : 0)
  );
}

export function minimum(...values: bigint[]): bigint {
  // biome-ignore lint/complexity/useMathMinMax: Math.min does not take bigint.
  return values.reduce((smallest, value) => (value < smallest ? value : smallest));
}

/**
 * Allocates one line. `coveredMicro` says what each grant already paid of this same line, and
 * `payableMicro` how much of the line is still to pay (a settlement topping up its holds), so a
 * grant never pays more than its coverage of the whole line.
 */
export function allocateLine(
  line: ChargeLine,
  grants: readonly FundedGrant[],
  walletAvailableMicro: bigint,
  coveredMicro: ReadonlyMap<string, bigint> = new Map(),
  payableMicro: bigint = line.costMicro,
): Allocation {
  let remainingMicro = payableMicro;
  const coupons: CouponTake[] = [];
  const eligible = grants.filter((grant) => isEligible(grant, line)).sort(compareGrants);
  for (const grant of eligible) {
    if (remainingMicro === 0n) {
      break;
    }
    const capMicro =
      shareOf(line.costMicro, grant.coverageBps) - (coveredMicro.get(grant.id) ?? 0n);
    const amountMicro = minimum(grant.availableMicro, capMicro, remainingMicro);
    if (amountMicro > 0n) {
      coupons.push({ grantId: grant.id, amountMicro });
      remainingMicro -= amountMicro;
    }
  }
  const walletMicro = minimum(
    walletAvailableMicro < 0n ? 0n : walletAvailableMicro,
    remainingMicro,
  );
  return { coupons, walletMicro, shortfallMicro: remainingMicro - walletMicro };
}

/**
 * Allocates the lines of one charge (one per coupon kind) in turn: each line's coupons are of its
 * own kind, so no coupon is counted twice, and the wallet pays each line from what the lines
 * before it left.
 */
export function allocateLines(
  lines: readonly ChargeLine[],
  grants: readonly FundedGrant[],
  walletAvailableMicro: bigint,
): Allocation[] {
  let walletLeftMicro = walletAvailableMicro;
  return lines.map((line) => {
    const allocation = allocateLine(line, grants, walletLeftMicro);
    walletLeftMicro -= allocation.walletMicro;
    return allocation;
  });
}

/** The allocations of several lines as one: every coupon take, the wallet's and the shortfall's sums. */
export function mergeAllocations(allocations: readonly Allocation[]): Allocation {
  return {
    coupons: allocations.flatMap((allocation) => allocation.coupons),
    walletMicro: allocations.reduce((sum, allocation) => sum + allocation.walletMicro, 0n),
    shortfallMicro: allocations.reduce((sum, allocation) => sum + allocation.shortfallMicro, 0n),
  };
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chargeLine, fundedGrant } from './test-grants.ts';
import {
  type Allocation,
  allocateLine,
  type ChargeLine,
  compareGrants,
  couponKinds,
  type FundedGrant,
  type GrantTerms,
  isEligible,
} from './waterfall.ts';

const propertyRuns = { seed: 20_260_602, numRuns: 1_000 };

const models = ['model-a', 'model-b', 'model-c'] as const;
const regions = ['east', 'west', 'north'] as const;

function grant(overrides: Partial<FundedGrant> & { id: string }): FundedGrant {
  return fundedGrant(overrides, 1_000_000n);
}

const line = chargeLine;

function takenBy(allocation: Allocation, grantId: string): bigint {
  return allocation.coupons
    .filter((take) => take.grantId === grantId)
    .reduce((total, take) => total + take.amountMicro, 0n);
}

function couponTotal(allocation: Allocation): bigint {
  return allocation.coupons.reduce((total, take) => total + take.amountMicro, 0n);
}

/** Small domains on purpose, so generated grants tie on many fields of the order. */
const scopeList = <Value extends string>(values: readonly Value[]) =>
  fc.option(
    fc.uniqueArray(fc.constantFrom(...values), { minLength: 1, maxLength: values.length }),
    {
      nil: null,
    },
  );

const grantTerms = (id: fc.Arbitrary<string>) =>
  fc.record({
    id,
    kind: fc.constantFrom(...couponKinds),
    coverageBps: fc.oneof(fc.constantFrom(10_000, 5_000, 3_333, 1), fc.nat({ max: 10_000 })),
    models: scopeList(models),
    regions: scopeList(regions),
    priority: fc.constantFrom(0, 10, 50, 50, 100),
    startsAtMs: fc.constantFrom(0, 500, 1_000, 2_000),
    expiresAtMs: fc.option(fc.constantFrom(900, 1_000, 1_001, 5_000), { nil: null }),
    createdAtMs: fc.constantFrom(0, 1, 2),
    status: fc.constantFrom('active', 'active', 'active', 'voided', 'expired') as fc.Arbitrary<
      GrantTerms['status']
    >,
  });

const fundedGrants = fc
  .array(
    fc.tuple(
      grantTerms(fc.constant('')),
      fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 5_000n })),
    ),
    { maxLength: 8 },
  )
  .map((rows) =>
    rows.map(
      ([terms, availableMicro], index): FundedGrant => ({
        ...terms,
        id: `grant-${index}`,
        availableMicro,
      }),
    ),
  );

const chargeLines = fc.record({
  kind: fc.constantFrom(...couponKinds, 'compute', 'compute'),
  costMicro: fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 20_000n })),
  model: fc.constantFrom(...models),
  region: fc.constantFrom(...regions),
  atMs: fc.constantFrom(0, 500, 999, 1_000, 1_500, 5_000),
});

const walletBalances = fc.oneof(
  fc.constant(0n),
  fc.bigInt({ min: 1n, max: 20_000n }),
  fc.bigInt({ min: -100n, max: -1n }),
);

/** What each grant already paid of the line and how much of it is still to pay (a top-up). */
const settlementContext = (costMicro: bigint, grants: readonly FundedGrant[]) =>
  fc.record({
    covered: fc.tuple(
      ...grants.map(() => fc.bigInt({ min: 0n, max: costMicro < 0n ? 0n : costMicro })),
    ),
    payable: fc.bigInt({ min: 0n, max: costMicro }),
  });

const scenarios = fc
  .tuple(fundedGrants, chargeLines, walletBalances)
  .chain(([grants, charge, wallet]) =>
    fc.option(settlementContext(charge.costMicro, grants), { nil: undefined }).map((context) => {
      const covered = new Map<string, bigint>(
        context ? grants.map((funded, index) => [funded.id, context.covered[index] ?? 0n]) : [],
      );
      const payable = context ? context.payable : charge.costMicro;
      return { grants, charge, wallet, covered, payable };
    }),
  );

/** The most a grant may still take of the line, by coverage and by its balance. */
function roomOf(funded: FundedGrant, charge: ChargeLine, covered: ReadonlyMap<string, bigint>) {
  const coverageLeft =
    (charge.costMicro * BigInt(funded.coverageBps)) / 10_000n - (covered.get(funded.id) ?? 0n);
  const room = funded.availableMicro < coverageLeft ? funded.availableMicro : coverageLeft;
  return room < 0n ? 0n : room;
}

describe('compareGrants', () => {
  const terms = grantTerms(fc.constantFrom('grant-a', 'grant-b', 'grant-c'));

  it('ties only a grant with itself (same id)', () => {
    fc.assert(
      fc.property(terms, terms, (left, right) => {
        expect(compareGrants(left, left)).toBe(0);
        if (compareGrants(left, right) === 0) {
          expect(left.id).toBe(right.id);
        }
      }),
      propertyRuns,
    );
  });

  it('is antisymmetric', () => {
    fc.assert(
      fc.property(terms, terms, (left, right) => {
        expect(Math.sign(compareGrants(left, right))).toBe(-Math.sign(compareGrants(right, left)));
      }),
      propertyRuns,
    );
  });

  it('is transitive', () => {
    fc.assert(
      fc.property(terms, terms, terms, (first, second, third) => {
        if (compareGrants(first, second) < 0 && compareGrants(second, third) < 0) {
          expect(compareGrants(first, third)).toBeLessThan(0);
        }
        if (compareGrants(first, second) <= 0 && compareGrants(second, third) <= 0) {
          expect(compareGrants(first, third)).toBeLessThanOrEqual(0);
        }
      }),
      { ...propertyRuns, numRuns: 5_000 },
    );
  });

  it('sorts every shuffle of distinct grants into the same order', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(grantTerms(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f')), {
          selector: (terms) => terms.id,
          maxLength: 6,
        }),
        fc.array(fc.nat(), { minLength: 6, maxLength: 6 }),
        (grants, shuffleKeys) => {
          const shuffled = grants
            .map((terms, index) => ({ terms, key: shuffleKeys[index] ?? 0 }))
            .sort((left, right) => left.key - right.key)
            .map(({ terms }) => terms);
          const ids = (list: GrantTerms[]) =>
            [...list].sort(compareGrants).map((terms) => terms.id);
          expect(ids(shuffled)).toEqual(ids(grants));
        },
      ),
      propertyRuns,
    );
  });

  it.each([
    {
      rule: 'lower priority first, before any other rule',
      first: grant({ id: 'z', priority: 10, expiresAtMs: null }),
      second: grant({ id: 'a', priority: 50, models: ['model-a'], expiresAtMs: 10 }),
    },
    {
      rule: 'a scoped grant before a global one',
      first: grant({ id: 'z', models: ['model-a'] }),
      second: grant({ id: 'a', expiresAtMs: 10 }),
    },
    {
      rule: 'two restricted dimensions before one',
      first: grant({ id: 'z', models: ['model-a', 'model-b'], regions: ['east', 'west'] }),
      second: grant({ id: 'a', models: ['model-a'] }),
    },
    {
      rule: 'fewer models before more models',
      first: grant({ id: 'z', models: ['model-a'] }),
      second: grant({ id: 'a', models: ['model-a', 'model-b'] }),
    },
    {
      rule: 'fewer regions before more regions',
      first: grant({ id: 'z', regions: ['east'] }),
      second: grant({ id: 'a', regions: ['east', 'west'] }),
    },
    {
      rule: 'the earlier expiry first',
      first: grant({ id: 'z', expiresAtMs: 5_000, startsAtMs: 900 }),
      second: grant({ id: 'a', expiresAtMs: 6_000, startsAtMs: 0 }),
    },
    {
      rule: 'a never-expiring grant last',
      first: grant({ id: 'z', expiresAtMs: Number.MAX_SAFE_INTEGER }),
      second: grant({ id: 'a', expiresAtMs: null }),
    },
    {
      rule: 'the earlier start first',
      first: grant({ id: 'z', startsAtMs: 1, createdAtMs: 9 }),
      second: grant({ id: 'a', startsAtMs: 2, createdAtMs: 0 }),
    },
    {
      rule: 'the earlier creation first',
      first: grant({ id: 'z', createdAtMs: 1 }),
      second: grant({ id: 'a', createdAtMs: 2 }),
    },
    {
      rule: 'the smaller id last of all',
      first: grant({ id: 'a' }),
      second: grant({ id: 'b' }),
    },
  ])('orders $rule', ({ first, second }) => {
    expect(compareGrants(first, second)).toBeLessThan(0);
    expect(compareGrants(second, first)).toBeGreaterThan(0);
  });
});

describe('isEligible', () => {
  it.each([
    {
      case: 'an active, in-scope, valid grant',
      grantOverrides: {},
      lineOverrides: {},
      eligible: true,
    },
    {
      case: 'a voided grant',
      grantOverrides: { status: 'voided' },
      lineOverrides: {},
      eligible: false,
    },
    {
      case: 'an expired grant',
      grantOverrides: { status: 'expired' },
      lineOverrides: {},
      eligible: false,
    },
    {
      case: 'a storage grant on a compute line',
      grantOverrides: { kind: 'storage' },
      lineOverrides: {},
      eligible: false,
    },
    {
      case: 'a transport grant on a transport line',
      grantOverrides: { kind: 'transport' },
      lineOverrides: { kind: 'transport' },
      eligible: true,
    },
    {
      case: 'a model-A grant on model B',
      grantOverrides: { models: ['model-a'] },
      lineOverrides: { model: 'model-b' },
      eligible: false,
    },
    {
      case: 'a model-A grant on model A',
      grantOverrides: { models: ['model-b', 'model-a'] },
      lineOverrides: {},
      eligible: true,
    },
    {
      case: 'an east grant in the west',
      grantOverrides: { regions: ['east'] },
      lineOverrides: { region: 'west' },
      eligible: false,
    },
    {
      case: 'a grant not yet valid',
      grantOverrides: { startsAtMs: 1_001 },
      lineOverrides: {},
      eligible: false,
    },
    {
      case: 'a grant starting at admission',
      grantOverrides: { startsAtMs: 1_000 },
      lineOverrides: {},
      eligible: true,
    },
    {
      case: 'a grant expiring at admission',
      grantOverrides: { expiresAtMs: 1_000 },
      lineOverrides: {},
      eligible: false,
    },
    {
      case: 'a grant expiring just after admission',
      grantOverrides: { expiresAtMs: 1_001 },
      lineOverrides: {},
      eligible: true,
    },
  ] satisfies {
    case: string;
    grantOverrides: Partial<FundedGrant>;
    lineOverrides: Partial<ChargeLine>;
    eligible: boolean;
  }[])('judges $case eligible: $eligible', ({ grantOverrides, lineOverrides, eligible }) => {
    expect(isEligible(grant({ id: 'g', ...grantOverrides }), line(lineOverrides))).toBe(eligible);
  });
});

describe('allocateLine', () => {
  it('lets a 50% voucher pay half and the wallet the rest', () => {
    const allocation = allocateLine(
      line({ costMicro: 1_001n }),
      [grant({ id: 'half', coverageBps: 5_000 })],
      10_000n,
    );
    expect(allocation).toEqual({
      coupons: [{ grantId: 'half', amountMicro: 500n }],
      walletMicro: 501n,
      shortfallMicro: 0n,
    });
  });

  it('does not let a model-A coupon pay for model B', () => {
    const allocation = allocateLine(
      line({ model: 'model-b' }),
      [grant({ id: 'only-a', models: ['model-a'] })],
      5_000n,
    );
    expect(allocation).toEqual({ coupons: [], walletMicro: 1_000n, shortfallMicro: 0n });
  });

  it('takes the lower priority number first, even if it expires later', () => {
    const allocation = allocateLine(
      line({ costMicro: 1_500n }),
      [
        grant({ id: 'soon', priority: 50, expiresAtMs: 2_000 }),
        grant({ id: 'first', priority: 10, expiresAtMs: 9_000, availableMicro: 1_000n }),
      ],
      0n,
    );
    expect(allocation.coupons).toEqual([
      { grantId: 'first', amountMicro: 1_000n },
      { grantId: 'soon', amountMicro: 500n },
    ]);
  });

  it('takes the earlier expiry first, the never-expiring last', () => {
    const allocation = allocateLine(
      line({ costMicro: 250n }),
      [
        grant({ id: 'forever', expiresAtMs: null, availableMicro: 100n }),
        grant({ id: 'later', expiresAtMs: 9_000, availableMicro: 100n }),
        grant({ id: 'sooner', expiresAtMs: 2_000, availableMicro: 100n }),
      ],
      0n,
    );
    expect(allocation.coupons).toEqual([
      { grantId: 'sooner', amountMicro: 100n },
      { grantId: 'later', amountMicro: 100n },
      { grantId: 'forever', amountMicro: 50n },
    ]);
  });

  it('leaves an expired coupon unused, judged at admission time', () => {
    const expired = grant({ id: 'expired', expiresAtMs: 1_000 });
    expect(allocateLine(line({ atMs: 1_000 }), [expired], 5_000n).coupons).toEqual([]);
    expect(allocateLine(line({ atMs: 999 }), [expired], 5_000n).coupons).toEqual([
      { grantId: 'expired', amountMicro: 1_000n },
    ]);
  });

  it('leaves voided, other-kind, out-of-region and not-yet-valid coupons unused', () => {
    const allocation = allocateLine(
      line(),
      [
        grant({ id: 'voided', status: 'voided' }),
        grant({ id: 'storage', kind: 'storage' }),
        grant({ id: 'west', regions: ['west'] }),
        grant({ id: 'future', startsAtMs: 2_000 }),
      ],
      1_000n,
    );
    expect(allocation).toEqual({ coupons: [], walletMicro: 1_000n, shortfallMicro: 0n });
  });

  it('takes the narrower scope first', () => {
    const allocation = allocateLine(
      line({ costMicro: 300n }),
      [
        grant({ id: 'global', availableMicro: 1_000n }),
        grant({ id: 'model', models: ['model-a'], availableMicro: 100n }),
        grant({ id: 'model-region', models: ['model-a'], regions: ['east'], availableMicro: 100n }),
      ],
      0n,
    );
    expect(allocation.coupons).toEqual([
      { grantId: 'model-region', amountMicro: 100n },
      { grantId: 'model', amountMicro: 100n },
      { grantId: 'global', amountMicro: 100n },
    ]);
  });

  it('leaves to the wallet what coupons cannot pay and calls the rest a shortfall', () => {
    const allocation = allocateLine(
      line({ costMicro: 1_000n }),
      [grant({ id: 'small', availableMicro: 300n })],
      200n,
    );
    expect(allocation).toEqual({
      coupons: [{ grantId: 'small', amountMicro: 300n }],
      walletMicro: 200n,
      shortfallMicro: 500n,
    });
  });

  it('treats an overdrawn wallet as empty', () => {
    expect(allocateLine(line(), [], -5n)).toEqual({
      coupons: [],
      walletMicro: 0n,
      shortfallMicro: 1_000n,
    });
  });

  it('caps a coupon by what it already covered of the same line', () => {
    const allocation = allocateLine(
      line({ costMicro: 1_000n }),
      [grant({ id: 'half', coverageBps: 5_000 })],
      1_000n,
      new Map([['half', 300n]]),
      400n,
    );
    expect(allocation).toEqual({
      coupons: [{ grantId: 'half', amountMicro: 200n }],
      walletMicro: 200n,
      shortfallMicro: 0n,
    });
  });

  it('splits every charge exactly into coupons, wallet and shortfall', () => {
    fc.assert(
      fc.property(scenarios, ({ grants, charge, wallet, covered, payable }) => {
        const allocation = allocateLine(charge, grants, wallet, covered, payable);
        expect(couponTotal(allocation) + allocation.walletMicro + allocation.shortfallMicro).toBe(
          payable,
        );
        expect(allocation.walletMicro >= 0n).toBe(true);
        expect(allocation.shortfallMicro >= 0n).toBe(true);
        expect(allocation.walletMicro <= (wallet < 0n ? 0n : wallet)).toBe(true);
        if (allocation.shortfallMicro > 0n) {
          expect(allocation.walletMicro).toBe(wallet < 0n ? 0n : wallet);
        }
      }),
      propertyRuns,
    );
  });

  it('lets no coupon pay outside its scope, kind, validity or status, nor beyond its cap or balance', () => {
    fc.assert(
      fc.property(scenarios, ({ grants, charge, wallet, covered, payable }) => {
        const allocation = allocateLine(charge, grants, wallet, covered, payable);
        const paidIds = allocation.coupons.map((take) => take.grantId);
        expect(new Set(paidIds).size).toBe(paidIds.length);
        for (const take of allocation.coupons) {
          const funded = grants.find((candidate) => candidate.id === take.grantId);
          expect(funded).toBeDefined();
          if (!funded) {
            continue;
          }
          expect(funded.status).toBe('active');
          expect(funded.kind).toBe(charge.kind);
          expect(funded.startsAtMs <= charge.atMs).toBe(true);
          expect(funded.expiresAtMs === null || charge.atMs < funded.expiresAtMs).toBe(true);
          expect(funded.models === null || funded.models.includes(charge.model)).toBe(true);
          expect(funded.regions === null || funded.regions.includes(charge.region)).toBe(true);
          expect(take.amountMicro > 0n).toBe(true);
          expect(take.amountMicro <= funded.availableMicro).toBe(true);
          const capMicro =
            (charge.costMicro * BigInt(funded.coverageBps)) / 10_000n -
            (covered.get(funded.id) ?? 0n);
          expect(take.amountMicro <= capMicro).toBe(true);
        }
      }),
      propertyRuns,
    );
  });

  it('lets the wallet pay only once every eligible coupon is exhausted or at its cap', () => {
    fc.assert(
      fc.property(scenarios, ({ grants, charge, wallet, covered, payable }) => {
        const allocation = allocateLine(charge, grants, wallet, covered, payable);
        if (allocation.walletMicro === 0n && allocation.shortfallMicro === 0n) {
          return;
        }
        for (const funded of grants.filter((candidate) => isEligible(candidate, charge))) {
          expect(takenBy(allocation, funded.id)).toBe(roomOf(funded, charge, covered));
        }
      }),
      propertyRuns,
    );
  });

  it('exhausts or caps every earlier coupon in the order before a later one pays', () => {
    fc.assert(
      fc.property(scenarios, ({ grants, charge, wallet, covered, payable }) => {
        const allocation = allocateLine(charge, grants, wallet, covered, payable);
        const eligible = grants.filter((candidate) => isEligible(candidate, charge));
        for (const later of eligible) {
          if (takenBy(allocation, later.id) === 0n) {
            continue;
          }
          for (const earlier of eligible.filter(
            (candidate) => compareGrants(candidate, later) < 0,
          )) {
            expect(takenBy(allocation, earlier.id)).toBe(roomOf(earlier, charge, covered));
          }
        }
        // And the takes come out in that order.
        const order = allocation.coupons.map((take) => take.grantId);
        const sorted = [...eligible].sort(compareGrants).map((funded) => funded.id);
        expect(order).toEqual(sorted.filter((id) => order.includes(id)));
      }),
      propertyRuns,
    );
  });

  it('does not depend on the order the grants were listed in', () => {
    fc.assert(
      fc.property(scenarios, ({ grants, charge, wallet, covered, payable }) => {
        const reversed = [...grants].reverse();
        expect(allocateLine(charge, reversed, wallet, covered, payable)).toEqual(
          allocateLine(charge, grants, wallet, covered, payable),
        );
      }),
      propertyRuns,
    );
  });
});

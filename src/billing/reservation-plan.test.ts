import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type PinnedPrice, tokenCost } from './cost.ts';
import { planReservation, type ReservationRequest } from './reservation-plan.ts';
import { fundedGrant } from './test-grants.ts';
import { allocateLine, type FundedGrant } from './waterfall.ts';

const propertyRuns = { seed: 20_260_603, numRuns: 1_000 };

const listPrice: PinnedPrice = {
  priceId: 'price-1',
  inputPerMillion: 1_000_000n,
  cachedInputPerMillion: 500_000n,
  outputPerMillion: 2_000_000n,
  multiplierBps: 10_000,
};

function grant(overrides: Partial<FundedGrant> & { id: string }): FundedGrant {
  return fundedGrant(overrides, 0n);
}

function request(overrides: Partial<ReservationRequest> = {}): ReservationRequest {
  return {
    price: listPrice,
    promptTokensEstimate: 100,
    outputTokensMax: 50,
    clampAllowed: false,
    line: { kind: 'compute', model: 'model-a', region: 'east', atMs: 1_000 },
    grants: [],
    walletAvailableMicro: 1_000_000n,
    ...overrides,
  };
}

function estimateOf(input: ReservationRequest, outputTokens: number): bigint {
  return tokenCost(
    { inputTokens: input.promptTokensEstimate, cachedInputTokens: 0, outputTokens },
    input.price,
  );
}

/** Whether the tenant can pay this output allowance in full, by the pure waterfall. */
function affordable(input: ReservationRequest, outputTokens: number): boolean {
  const costMicro = estimateOf(input, outputTokens);
  return (
    allocateLine({ ...input.line, costMicro }, input.grants, input.walletAvailableMicro)
      .shortfallMicro === 0n
  );
}

const prices = fc
  .record({
    inputPerMillion: fc.bigInt({ min: 0n, max: 5_000_000n }),
    outputPerMillion: fc.bigInt({ min: 0n, max: 20_000_000n }),
    multiplierBps: fc.constantFrom(10_000, 5_000, 7_500),
  })
  .map(
    (fields): PinnedPrice => ({ priceId: 'price-generated', cachedInputPerMillion: 0n, ...fields }),
  );

const generatedGrants = (coverage: fc.Arbitrary<number>) =>
  fc
    .array(
      fc.record({
        coverageBps: coverage,
        models: fc.option(fc.constant(['model-a']), { nil: null }),
        regions: fc.option(fc.constantFrom(['east'], ['west']), { nil: null }),
        priority: fc.constantFrom(10, 50),
        availableMicro: fc.bigInt({ min: 0n, max: 3_000n }),
      }),
      { maxLength: 4 },
    )
    .map((rows) => rows.map((row, index) => grant({ ...row, id: `grant-${index}` })));

const requests = (coverage: fc.Arbitrary<number>) =>
  fc
    .record({
      price: prices,
      promptTokensEstimate: fc.nat({ max: 2_000 }),
      outputTokensMax: fc.integer({ min: 1, max: 2_000 }),
      clampAllowed: fc.boolean(),
      grants: generatedGrants(coverage),
      walletAvailableMicro: fc.bigInt({ min: 0n, max: 5_000n }),
    })
    .map((fields) => request(fields));

const anyCoverage = fc.oneof(fc.constant(10_000), fc.constant(5_000), fc.nat({ max: 10_000 }));

describe('planReservation', () => {
  it('holds the whole estimate, coupons first, when the tenant can pay it', () => {
    const plan = planReservation(
      request({
        grants: [grant({ id: 'voucher', coverageBps: 5_000, availableMicro: 1_000_000n })],
      }),
    );
    // 100 prompt tokens at 1 per million plus 50 output tokens at 2 per million: 100 + 100.
    expect(plan).toEqual({
      ok: true,
      estimateMicro: 200n,
      allocation: {
        coupons: [{ grantId: 'voucher', amountMicro: 100n }],
        walletMicro: 100n,
        shortfallMicro: 0n,
      },
      outputTokensMax: 50,
      clamped: false,
    });
  });

  it('refuses what the tenant cannot pay, telling what it could afford', () => {
    const plan = planReservation(request({ walletAvailableMicro: 150n }));
    // 150 pays the 100 of input and 25 output tokens.
    expect(plan).toEqual({
      ok: false,
      estimateMicro: 200n,
      affordableOutputTokens: 25,
      availableMicro: 150n,
    });
  });

  it('lowers the output allowance to the largest affordable one when the tenant allows it', () => {
    const plan = planReservation(request({ walletAvailableMicro: 151n, clampAllowed: true }));
    expect(plan).toMatchObject({
      ok: true,
      estimateMicro: 150n,
      outputTokensMax: 25,
      clamped: true,
    });
  });

  it('counts coupons in what the tenant can afford', () => {
    const plan = planReservation(
      request({
        clampAllowed: true,
        walletAvailableMicro: 20n,
        grants: [grant({ id: 'voucher', availableMicro: 100n })],
      }),
    );
    expect(plan).toMatchObject({
      ok: true,
      estimateMicro: 120n,
      outputTokensMax: 10,
      clamped: true,
    });
  });

  it('refuses even with the clamp when the prompt alone is unaffordable', () => {
    const plan = planReservation(request({ walletAvailableMicro: 99n, clampAllowed: true }));
    expect(plan).toEqual({
      ok: false,
      estimateMicro: 200n,
      affordableOutputTokens: 0,
      availableMicro: 99n,
    });
  });

  it('refuses with the clamp when not even one output token is affordable', () => {
    const plan = planReservation(request({ walletAvailableMicro: 101n, clampAllowed: true }));
    expect(plan).toMatchObject({ ok: false, affordableOutputTokens: 0 });
  });

  it('does not count coupons that cannot pay this line as available', () => {
    const plan = planReservation(
      request({
        walletAvailableMicro: 0n,
        grants: [
          grant({ id: 'other-model', models: ['model-b'], availableMicro: 1_000n }),
          grant({ id: 'expired', expiresAtMs: 1_000, availableMicro: 1_000n }),
          grant({ id: 'half', coverageBps: 5_000, availableMicro: 1_000n }),
        ],
      }),
    );
    expect(plan).toMatchObject({ ok: false, availableMicro: 100n });
  });

  it('holds exactly the estimate of the allowance it grants, without any shortfall', () => {
    fc.assert(
      fc.property(requests(anyCoverage), (input) => {
        const plan = planReservation(input);
        if (!plan.ok) {
          return;
        }
        expect(plan.estimateMicro).toBe(estimateOf(input, plan.outputTokensMax));
        const coupons = plan.allocation.coupons.reduce((sum, take) => sum + take.amountMicro, 0n);
        expect(coupons + plan.allocation.walletMicro).toBe(plan.estimateMicro);
        expect(plan.allocation.shortfallMicro).toBe(0n);
        expect(plan.allocation).toEqual(
          allocateLine(
            { ...input.line, costMicro: plan.estimateMicro },
            input.grants,
            input.walletAvailableMicro,
          ),
        );
      }),
      propertyRuns,
    );
  });

  it('grants the allowance asked for whenever it is affordable, and only then', () => {
    fc.assert(
      fc.property(requests(anyCoverage), (input) => {
        const plan = planReservation(input);
        const askedIsAffordable = affordable(input, input.outputTokensMax);
        expect(plan.ok && !plan.clamped).toBe(askedIsAffordable);
        if (plan.ok && !plan.clamped) {
          expect(plan.outputTokensMax).toBe(input.outputTokensMax);
        }
      }),
      propertyRuns,
    );
  });

  it('clamps only when allowed, to an affordable allowance of at least one token below the ask', () => {
    fc.assert(
      fc.property(requests(anyCoverage), (input) => {
        const plan = planReservation(input);
        if (!plan.ok || !plan.clamped) {
          return;
        }
        expect(input.clampAllowed).toBe(true);
        expect(plan.outputTokensMax).toBeGreaterThanOrEqual(1);
        expect(plan.outputTokensMax).toBeLessThan(input.outputTokensMax);
        expect(affordable(input, plan.outputTokensMax)).toBe(true);
      }),
      propertyRuns,
    );
  });

  it('clamps to the largest affordable allowance, or refuses when none is, even where coupon rounding makes affordability dip', () => {
    fc.assert(
      fc.property(requests(anyCoverage), (generated) => {
        const input = {
          ...generated,
          clampAllowed: true,
          outputTokensMax: (generated.outputTokensMax % 300) + 1,
        };
        const plan = planReservation(input);
        if (plan.ok && !plan.clamped) {
          return;
        }
        const affordability = Array.from({ length: input.outputTokensMax }, (_, outputTokens) =>
          affordable(input, outputTokens),
        );
        const largest = affordability.lastIndexOf(true);
        if (plan.ok) {
          expect(plan.outputTokensMax).toBe(largest);
        } else {
          expect(largest).toBeLessThan(1);
          expect(plan.affordableOutputTokens).toBe(Math.max(0, largest));
        }
      }),
      propertyRuns,
    );
  });

  // Each partial-coverage coupon rounds its share down, so with two 50% vouchers and an empty
  // wallet only even costs are affordable: affordability does not only fall as the allowance
  // grows. Here 11 micro-units (max_tokens 10) are not affordable and neither is the prompt alone
  // (1), yet max_tokens 9 (10 micro-units) is.
  it('clamps rather than refuses when a smaller allowance is affordable, even with two half vouchers and an empty wallet', () => {
    const input = request({
      price: { ...listPrice, inputPerMillion: 1_000_000n, outputPerMillion: 1_000_000n },
      promptTokensEstimate: 1,
      outputTokensMax: 10,
      clampAllowed: true,
      walletAvailableMicro: 0n,
      grants: [
        grant({ id: 'city', coverageBps: 5_000, availableMicro: 1_000n }),
        grant({ id: 'district', coverageBps: 5_000, availableMicro: 1_000n }),
      ],
    });
    expect(affordable(input, 9)).toBe(true);
    expect(planReservation(input)).toMatchObject({ ok: true, outputTokensMax: 9, clamped: true });
  });

  it('finds the largest affordable allowance far below the ask, with 70% and 30% vouchers', () => {
    const input = request({
      price: { ...listPrice, inputPerMillion: 1_000_000n, outputPerMillion: 1_000_000n },
      promptTokensEstimate: 1,
      outputTokensMax: 1001,
      clampAllowed: true,
      walletAvailableMicro: 0n,
      grants: [
        grant({ id: 'seventy', coverageBps: 7_000, availableMicro: 700n }),
        grant({ id: 'thirty', coverageBps: 3_000, availableMicro: 1_000n }),
      ],
    });
    expect(affordable(input, 1001)).toBe(false);
    expect(affordable(input, 1000)).toBe(false);
    const plan = planReservation(input);
    const largest = Array.from({ length: 1001 }, (_, tokens) =>
      affordable(input, tokens),
    ).lastIndexOf(true);
    expect(plan).toMatchObject({ ok: true, outputTokensMax: largest, clamped: true });
  });

  it('reports what is available as the wallet plus what coupons could pay of the full estimate', () => {
    fc.assert(
      fc.property(requests(anyCoverage), (input) => {
        const plan = planReservation(input);
        if (plan.ok) {
          return;
        }
        expect(plan.estimateMicro).toBe(estimateOf(input, input.outputTokensMax));
        const full = allocateLine(
          { ...input.line, costMicro: plan.estimateMicro },
          input.grants,
          input.walletAvailableMicro,
        );
        const coupons = full.coupons.reduce((sum, take) => sum + take.amountMicro, 0n);
        expect(plan.availableMicro).toBe(input.walletAvailableMicro + coupons);
        expect(plan.availableMicro < plan.estimateMicro).toBe(true);
      }),
      propertyRuns,
    );
  });

  it('clamps to the largest affordable allowance when coupons cover whole charges', () => {
    // With full coverage, affordability only falls as the allowance grows, so the search is exact.
    fc.assert(
      fc.property(requests(fc.constant(10_000)), (input) => {
        const plan = planReservation({ ...input, clampAllowed: true });
        const granted = plan.ok ? plan.outputTokensMax : plan.affordableOutputTokens;
        if (plan.ok && !plan.clamped) {
          return;
        }
        if (granted >= 1 || affordable(input, 0)) {
          expect(affordable(input, granted)).toBe(true);
        }
        expect(affordable(input, granted + 1)).toBe(false);
      }),
      propertyRuns,
    );
  });
});

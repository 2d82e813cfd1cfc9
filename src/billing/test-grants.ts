/** Grants and charge lines with test defaults, for the unit tests of the billing folder. */
import type { ChargeLine, FundedGrant, GrantTerms } from './waterfall.ts';

/** An active, unscoped, never-expiring 100% compute grant at priority 50. */
export function grantTerms(overrides: Partial<GrantTerms> & { id: string }): GrantTerms {
  return {
    kind: 'compute',
    coverageBps: 10_000,
    models: null,
    regions: null,
    priority: 50,
    startsAtMs: 0,
    expiresAtMs: null,
    createdAtMs: 0,
    status: 'active',
    ...overrides,
  };
}

export function fundedGrant(
  overrides: Partial<FundedGrant> & { id: string },
  availableMicroDefault: bigint,
): FundedGrant {
  return { ...grantTerms(overrides), availableMicro: availableMicroDefault, ...overrides };
}

/** A compute line of 1,000 micro-units for model-a in east, admitted at 1,000 ms. */
export function chargeLine(overrides: Partial<ChargeLine> = {}): ChargeLine {
  return {
    kind: 'compute',
    costMicro: 1_000n,
    model: 'model-a',
    region: 'east',
    atMs: 1_000,
    ...overrides,
  };
}

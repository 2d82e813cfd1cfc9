/**
 * The fixed world every sequence of the ledger's property suite starts from: two tenants, two
 * models, three regions, two coupon programs, two providers and their backends, the prices a
 * model may be given. Fixed so that a seed alone decides a sequence.
 */
import type { PinnedPrice } from '../../../src/billing/cost.ts';

export const tenantIds = ['tenant-1', 'tenant-2'] as const;
export const modelNames = ['model-a', 'model-b'] as const;
export const regionNames = ['east', 'west', 'north'] as const;
export const programs = ['gov-compute', 'platform-promo'] as const;
export const providers = [
  { id: 'provider-1', payoutBps: 7_000 },
  { id: 'provider-2', payoutBps: 8_333 },
] as const;
export const backends = [
  { id: 'backend-east', providerId: 'provider-1', region: 'east' },
  { id: 'backend-west', providerId: 'provider-2', region: 'west' },
  { id: 'backend-north', providerId: 'provider-1', region: 'north' },
] as const;
export type Backend = (typeof backends)[number];
/** Reservations older than this are swept even when their gateway is alive. */
export const longestRequestMs = 600_000;
export const gatewaySlots = 2;
export const everything = { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER };

type PriceTerms = Omit<PinnedPrice, 'priceId' | 'multiplierBps'>;
export const priceChoices: readonly PriceTerms[] = [
  { inputPerMillion: 1_000_000n, cachedInputPerMillion: 250_000n, outputPerMillion: 2_000_000n },
  { inputPerMillion: 1_234_567n, cachedInputPerMillion: 0n, outputPerMillion: 7_777_777n },
  { inputPerMillion: 3_000_000n, cachedInputPerMillion: 1_000_000n, outputPerMillion: 1_000_000n },
  { inputPerMillion: 0n, cachedInputPerMillion: 0n, outputPerMillion: 4_500_000n },
  { inputPerMillion: 500_000n, cachedInputPerMillion: 100_000n, outputPerMillion: 9_000_001n },
];

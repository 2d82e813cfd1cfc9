/**
 * The values of every enumerated column, written once for both dialects: the drizzle schemas
 * (schema.ts, postgres-schema.ts) and the ledger's column lists (ledger-tables.ts) take them
 * from here, so a value added here is accepted by every store at once.
 */

export const usageSources = ['provider', 'gateway_count', 'estimate'] as const;

export const usageOutcomes = [
  'complete',
  'client_disconnect',
  'upstream_error',
  'gateway_crash',
  'rejected',
] as const;

export const reservationStatuses = ['reserved', 'settled', 'released'] as const;

export const couponKinds = ['compute', 'storage', 'transport'] as const;

export const couponStatuses = ['active', 'voided', 'expired'] as const;

export const transferFlags = ['posted', 'pending', 'post_pending', 'void_pending'] as const;

export const payerSources = ['coupon', 'wallet', 'write_off'] as const;

export const apiKeyStatuses = ['active', 'revoked'] as const;

export const backendStates = ['pending', 'active', 'draining', 'removed'] as const;

/** A tenant's batch input, or the output (and error) file the batch runner writes. */
export const filePurposes = ['batch', 'batch_output'] as const;

/** Who paid a charge, as a usage record stores it: decimal-string amounts, as the API shows. */
export type StoredPayer = {
  source: (typeof payerSources)[number];
  id: string | null;
  amount: string;
};

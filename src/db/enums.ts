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
export type TransferFlag = (typeof transferFlags)[number];

export const payerSources = ['coupon', 'wallet', 'write_off'] as const;

export const apiKeyStatuses = ['active', 'revoked'] as const;

export const backendStates = ['pending', 'active', 'draining', 'removed'] as const;

/** A tenant's batch input, or the output (and error) file the batch runner writes. */
export const filePurposes = ['batch', 'batch_output'] as const;

/** Who paid a charge, as a usage record stores it: decimal-string amounts, as the API shows. */
export type StoredPayer = {
  source: (typeof payerSources)[number];
  id: string | null;
  /** The coupon's kind, or `wallet` / `write_off`; absent in records older than the meters. */
  kind?: (typeof couponKinds)[number] | 'wallet' | 'write_off';
  amount: string;
};

/** The meters a charge's lines are of (billing/meters.ts prices them). */
export const meterNames = [
  'input',
  'cached_input',
  'output',
  'card_hour',
  'storage_gb_hour',
  'transport_gb',
] as const;

/** One line of a charge as a usage record stores it: decimal strings, as the API shows. */
export type StoredLine = {
  meter: (typeof meterNames)[number];
  units: string;
  price: string;
  cost: string;
};

/** A batch's life, as OpenAI's Batch API names it. */
export const batchStatuses = [
  'validating',
  'failed',
  'in_progress',
  'finalizing',
  'completed',
  'expired',
  'cancelling',
  'cancelled',
] as const;

export const batchEndpoints = ['/v1/chat/completions', '/v1/embeddings', '/v1/responses'] as const;

/** A batch line: waiting, sent, or done with an answer (succeeded) or an error (failed). */
export const batchLineStatuses = ['pending', 'running', 'succeeded', 'failed'] as const;

/** One reason a batch failed validation, as OpenAI's `errors.data` lists them. */
export type BatchErrorItem = {
  code: string;
  message: string;
  param: string | null;
  /** 1-based line of the input file, when the error is about one line. */
  line: number | null;
};

/** A batch line's answer as stored: `response` and `error` of its output or error file line. */
export type StoredLineResult = {
  response: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
};

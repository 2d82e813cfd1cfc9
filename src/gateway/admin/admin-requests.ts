/**
 * Schemas of the admin and provider API bodies. Strict objects: an unknown field in an admin write
 * is more likely a typo than intent, so it is refused rather than ignored.
 */
import { z } from 'zod';
import type { Limits } from '../../config.ts';

const label = z.string().trim().min(1).max(200);
const region = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a region is lowercase letters, digits and -');
const modelName = z.string().min(1).max(256);
const positiveInteger = z.number().int().min(1).max(1_000_000_000);
const decimalAmount = z.string().max(40);
const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day is "HH:MM"');

export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export function createTenantSchema(limits: Limits) {
  return z.strictObject({
    name: label,
    home_region: region.nullable().optional(),
    allowed_regions: z.array(region).min(1).max(limits.listFieldLengthMax).nullable().optional(),
    allow_max_tokens_clamp: z.boolean().optional(),
    allow_key_management: z.boolean().optional(),
  });
}

export function createKeySchema(limits: Limits) {
  return z.strictObject({
    name: label.nullable().optional(),
    models: z.array(modelName).min(1).max(limits.listFieldLengthMax).nullable().optional(),
    rpm: positiveInteger.nullable().optional(),
    tpm: positiveInteger.nullable().optional(),
  });
}

/** Any of a tenant's settings; at least one. */
export function changeTenantSchema(limits: Limits) {
  return z
    .strictObject({
      name: label.optional(),
      home_region: region.nullable().optional(),
      allowed_regions: z.array(region).min(1).max(limits.listFieldLengthMax).nullable().optional(),
      allow_max_tokens_clamp: z.boolean().optional(),
      allow_key_management: z.boolean().optional(),
    })
    .refine((value) => Object.keys(value).length > 0, 'Name at least one setting to change.');
}

/** Any of a key's limits (null lifts one); at least one. */
export function changeKeySchema(limits: Limits) {
  return createKeySchema(limits).refine(
    (value) => Object.keys(value).length > 0,
    'Name at least one of name, models, rpm, tpm.',
  );
}

export const payoutRateSchema = z.strictObject({
  payout_bps: z.number().int().min(0).max(10_000),
  effective_at: z.iso.datetime({ offset: true }).optional(),
});

export const createProviderSchema = z.strictObject({
  name: label,
  payout_bps: z.number().int().min(0).max(10_000),
});

export const putPriceSchema = z.strictObject({
  input: decimalAmount,
  output: decimalAmount,
  cached_input: decimalAmount.optional(),
  /** Per accelerator-hour of a lease; absent or null: the model is not offered for leases. */
  card_hour: decimalAmount.nullable().optional(),
  currency: z.string().optional(),
  region: region.nullable().optional(),
  effective_at: z.iso.datetime({ offset: true }).optional(),
  offpeak: z
    .strictObject({
      start: clockTime,
      end: clockTime,
      timezone: z.string().refine(isTimeZone, 'not a known IANA time zone'),
      multiplier_bps: z.number().int().min(0).max(100_000),
    })
    .nullable()
    .optional(),
});

const backendUrl = z.string().min(1).max(2048);
/** GPUs behind one backend: a lease takes them all together. */
const acceleratorCount = z.number().int().min(1).max(1_024);
const acceleratorName = z.string().min(1).max(64);

export function registerBackendSchema(limits: Limits) {
  return z.strictObject({
    url: backendUrl,
    region,
    models: z.array(modelName).min(1).max(limits.listFieldLengthMax),
    slots: z.number().int().min(1).max(100_000).optional(),
    accelerators: acceleratorCount.optional(),
    accelerator: acceleratorName.nullable().optional(),
    api_key: z.string().min(1).max(4096).nullable().optional(),
    metrics_url: backendUrl.nullable().optional(),
  });
}

export function changeBackendSchema(limits: Limits) {
  return z.strictObject({
    slots: z.number().int().min(1).max(100_000).optional(),
    accelerators: acceleratorCount.optional(),
    accelerator: acceleratorName.nullable().optional(),
    models: z.array(modelName).min(1).max(limits.listFieldLengthMax).optional(),
    region: region.optional(),
    state: z.enum(['draining', 'active']).optional(),
  });
}

const reference = z.string().trim().min(1).max(200);

export const topUpSchema = z.strictObject({ amount: decimalAmount, reference });

/** What the operator writes of a payout or an adjustment, kept in the ledger. */
const memo = z.string().trim().min(1).max(500);

export const payoutSchema = z.strictObject({
  amount: decimalAmount,
  reference,
  note: memo.nullable().optional(),
});

export const adjustmentSchema = z.strictObject({
  /** Signed: "5.00" credits the wallet, "-5.00" debits it. */
  amount: decimalAmount,
  reason: memo,
  reference,
});

export function grantCouponSchema(limits: Limits) {
  return z.strictObject({
    kind: z.enum(['compute', 'storage', 'transport']),
    amount: decimalAmount,
    coverage_bps: z.number().int().min(1).max(10_000).optional(),
    models: z.array(modelName).min(1).max(limits.listFieldLengthMax).nullable().optional(),
    regions: z.array(region).min(1).max(limits.listFieldLengthMax).nullable().optional(),
    priority: z.number().int().min(0).max(100).optional(),
    starts_at: z.iso.datetime({ offset: true }).optional(),
    expires_at: z.iso.datetime({ offset: true }).nullable().optional(),
    program: z
      .string()
      .regex(/^[\w.-]{1,100}$/, 'a program is letters, digits, _ . and -')
      .optional(),
    reference,
  });
}

/** PUT /admin/v1/meters/storage: the price of a GB held for an hour. */
export const putStorageMeterSchema = z.strictObject({ storage_gb_hour: decimalAmount });

/** PUT /admin/v1/meters/transport: the price of a GB carried; a region pair overrides the default. */
export const putTransportMeterSchema = z.strictObject({
  transport_gb: decimalAmount,
  from_region: region.optional(),
  to_region: region.optional(),
});

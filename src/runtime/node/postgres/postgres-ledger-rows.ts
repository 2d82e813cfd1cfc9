/**
 * Reading the PostgreSQL ledger's rows back from node-postgres. The driver returns int8 as text
 * (its default, left alone so drizzle's own mapping stays right): money becomes bigint through
 * BigInt(text), never through a JS number; counts and milliseconds become numbers after a range
 * check. jsonb comes back parsed.
 */
import { assert } from '../../../assert.ts';
import type { CouponTerms, UsageRecord } from '../../../billing/ledger.ts';
import type { FundedCoupon, ReservationRow } from '../../../billing/ledger-unit.ts';
import { fromStoredPaidBy, type StoredPaidBy } from '../../../billing/paid-by.ts';

export type Row = Record<string, unknown>;

/** A bigint column as money: exact, whatever its size. */
export function moneyOf(value: unknown): bigint {
  assert(
    typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint',
    `a money column holds ${String(value)}`,
  );
  return BigInt(value);
}

/** A count, token number or epoch milliseconds: a safe integer. */
export function integerOf(value: unknown): number {
  const parsed = typeof value === 'number' ? value : Number(value);
  assert(Number.isSafeInteger(parsed), `an integer column holds ${String(value)}`);
  return parsed;
}

export function integerOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : integerOf(value);
}

export function textOf(value: unknown): string {
  assert(typeof value === 'string', `a text column holds ${String(value)}`);
  return value;
}

export function textOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : textOf(value);
}

function listOrNull(value: unknown): string[] | null {
  if (value === null || value === undefined) {
    return null;
  }
  assert(Array.isArray(value), 'a list column holds a JSON array');
  return value.map(textOf);
}

const reservationColumnNames = [
  'request_id',
  'tenant_id',
  'key_id',
  'model',
  'region',
  'price_id',
  'multiplier_bps',
  'reserved_amount',
  'status',
  'instance_id',
  'backend_id',
  'prompt_tokens_estimate',
  'checkpoint_input_tokens',
  'checkpoint_output_tokens',
  'admitted_at_ms',
] as const;

export const reservationColumns = reservationColumnNames.join(', ');

/** The reservation columns of table alias `alias`, as reservationOf reads them. */
export function reservationColumnsOf(alias: string): string {
  return reservationColumnNames.map((column) => `${alias}.${column}`).join(', ');
}

export function reservationOf(row: Row): ReservationRow {
  return {
    requestId: textOf(row.request_id),
    tenantId: textOf(row.tenant_id),
    keyId: textOf(row.key_id),
    model: textOf(row.model),
    region: textOf(row.region),
    priceId: textOf(row.price_id),
    multiplierBps: integerOf(row.multiplier_bps),
    reservedAmount: moneyOf(row.reserved_amount),
    status: textOf(row.status) as ReservationRow['status'],
    instanceId: textOf(row.instance_id),
    backendId: textOrNull(row.backend_id),
    promptTokensEstimate: integerOf(row.prompt_tokens_estimate),
    checkpointInputTokens: integerOrNull(row.checkpoint_input_tokens),
    checkpointOutputTokens: integerOrNull(row.checkpoint_output_tokens),
    admittedAtMs: integerOf(row.admitted_at_ms),
  };
}

/** The terms and state of a coupon row, without its money (that is its account's). */
export type CouponRecord = CouponTerms & {
  status: FundedCoupon['status'];
  createdAtMs: number;
};

/** Coupon columns, prefixed `c.`, as couponRecordOf reads them. */
export const couponColumns = `c.id AS coupon_id, c.tenant_id, c.kind AS coupon_kind, c.program,
  c.amount, c.coverage_bps, c.models, c.regions, c.priority, c.starts_at_ms, c.expires_at_ms,
  c.status, c.reference, c.created_at_ms`;

export function couponRecordOf(row: Row): CouponRecord {
  return {
    id: textOf(row.coupon_id),
    tenantId: textOf(row.tenant_id),
    kind: textOf(row.coupon_kind) as CouponTerms['kind'],
    program: textOf(row.program),
    amountMicro: moneyOf(row.amount),
    coverageBps: integerOf(row.coverage_bps),
    models: listOrNull(row.models),
    regions: listOrNull(row.regions),
    priority: integerOf(row.priority),
    startsAtMs: integerOf(row.starts_at_ms),
    expiresAtMs: integerOrNull(row.expires_at_ms),
    status: textOf(row.status) as CouponRecord['status'],
    reference: textOf(row.reference),
    createdAtMs: integerOf(row.created_at_ms),
  };
}

/** A coupon with its account's money: what it may still pay and what it holds. */
export function fundedCouponOf(
  record: CouponRecord,
  availableMicro: bigint,
  heldMicro: bigint,
): FundedCoupon {
  return { ...record, remainingMicro: availableMicro, availableMicro, heldMicro };
}

export function paidByOf(value: unknown) {
  assert(Array.isArray(value), 'paid_by holds a JSON array');
  return fromStoredPaidBy(value as StoredPaidBy[]);
}

export const usageColumns = `request_id, created_at_ms, tenant_id, key_id, model, region,
  backend_id, provider_id, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens,
  usage_source, outcome, cost, paid_by, verified_output_tokens`;

export function usageRecordOf(row: Row): UsageRecord {
  return {
    requestId: textOf(row.request_id),
    createdAtMs: integerOf(row.created_at_ms),
    tenantId: textOf(row.tenant_id),
    keyId: textOf(row.key_id),
    model: textOf(row.model),
    region: textOrNull(row.region),
    backendId: textOrNull(row.backend_id),
    providerId: textOrNull(row.provider_id),
    inputTokens: integerOrNull(row.input_tokens),
    cachedInputTokens: integerOrNull(row.cached_input_tokens),
    outputTokens: integerOrNull(row.output_tokens),
    reasoningTokens: integerOrNull(row.reasoning_tokens),
    usageSource: textOrNull(row.usage_source) as UsageRecord['usageSource'],
    outcome: textOf(row.outcome) as UsageRecord['outcome'],
    costMicro: moneyOf(row.cost),
    paidBy: paidByOf(row.paid_by),
    verifiedOutputTokens: integerOrNull(row.verified_output_tokens),
  };
}

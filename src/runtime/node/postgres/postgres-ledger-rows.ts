/**
 * Reading the PostgreSQL ledger's rows back from node-postgres. The driver returns int8 as text
 * (its default, left alone so drizzle's own mapping stays right): money becomes bigint through
 * BigInt(text), never through a JS number; counts and milliseconds become numbers after a range
 * check. jsonb comes back parsed.
 */
import { assert } from '../../../assert.ts';
import type { CouponTerms } from '../../../billing/ledger.ts';
import type { FundedCoupon } from '../../../billing/ledger-unit.ts';
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

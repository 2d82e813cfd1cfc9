/**
 * The ledger's rows as every SQL store writes and reads them (SQLite and PostgreSQL on Node, a
 * tenant's Durable Object on Workers, hence here, beside both runtimes' folders), between
 * billing's row types and the column lists of db/ledger-tables.ts: a usage record's payers are stored with decimal amounts,
 * a new reservation is stored open with no checkpoint. Typechecking these mappings is what ties
 * billing's types to the tables: a column added to a list and not to the row type (or the
 * other way round) fails here.
 */
import type { CouponTerms, UsageRecord } from '../billing/ledger.ts';
import type {
  NewReservationRow,
  ReservationRow,
  TransactionFields,
  UsageRow,
} from '../billing/ledger-unit.ts';
import { fromStoredPaidBy, toStoredPaidBy } from '../billing/paid-by.ts';
import { decodeRow, propertiesOf, type RowOf } from '../db/ledger-column.ts';
import {
  couponColumns,
  type ledgerTransactionColumns,
  reservationColumns,
  usageRecordColumns,
} from '../db/ledger-tables.ts';

export type StoredUsage = RowOf<typeof usageRecordColumns>;
export type StoredReservation = RowOf<typeof reservationColumns>;
export type StoredCoupon = RowOf<typeof couponColumns>;
export type StoredTransaction = Omit<RowOf<typeof ledgerTransactionColumns>, 'id'>;

export const usageProperties = propertiesOf(usageRecordColumns);
export const reservationProperties = propertiesOf(reservationColumns);
export const couponProperties = propertiesOf(couponColumns);

/** A usage record as settle writes it: payers with decimal amounts, not yet verified. */
export function storedUsageOf(row: UsageRow): StoredUsage {
  return { ...row, paidBy: toStoredPaidBy(row.paidBy), verifiedOutputTokens: null };
}

export function usageRecordOf(stored: Readonly<Record<string, unknown>>): UsageRecord {
  const row = decodeRow(usageRecordColumns, stored);
  return { ...row, paidBy: fromStoredPaidBy(row.paidBy) };
}

/** A reservation as admission writes it: open, not yet placed, no checkpoint. */
export function storedReservationOf(row: NewReservationRow): StoredReservation {
  return {
    ...row,
    status: 'reserved',
    backendId: null,
    checkpointInputTokens: null,
    checkpointOutputTokens: null,
    checkpointAtMs: null,
    endedAtMs: null,
  };
}

export function reservationOf(stored: Readonly<Record<string, unknown>>): ReservationRow {
  return decodeRow(reservationColumns, stored);
}

/** A coupon as a grant writes it: active until voided or expired. */
export function storedCouponOf(coupon: CouponTerms & { createdAtMs: number }): StoredCoupon {
  return { ...coupon, status: 'active', endedAtMs: null };
}

/** A transaction as recorded: its time, and no provider or memo unless the operation gave one. */
export function storedTransactionOf(fields: TransactionFields): StoredTransaction {
  return {
    idempotencyKey: fields.idempotencyKey,
    kind: fields.kind,
    tenantId: fields.tenantId,
    requestId: fields.requestId,
    reference: fields.reference,
    amountMicro: fields.amountMicro,
    createdAtMs: fields.atMs,
    providerId: fields.providerId ?? null,
    memo: fields.memo ?? null,
  };
}

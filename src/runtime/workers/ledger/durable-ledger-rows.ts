/**
 * The rows of the Durable Object ledger: coupons with their money, reservations and usage, read
 * and written through the column lists of db/ledger-tables.ts, so this store keeps no list of its
 * own that could drift from the SQLite and PostgreSQL ones. Everything runs inside the object's
 * transactionSync (durable-ledger.ts).
 */
import type { CouponState, CouponTerms, PaidBy } from '../../../billing/ledger.ts';
import type {
  FundedCoupon,
  NewReservationRow,
  ReservationRow,
  UsageRow,
} from '../../../billing/ledger-unit.ts';
import { fromStoredPaidBy } from '../../../billing/paid-by.ts';
import { columnList, decodeRow, propertiesOf, rowValues } from '../../../db/ledger-column.ts';
import {
  couponColumns,
  reservationColumns,
  usageRecordColumns,
} from '../../../db/ledger-tables.ts';
import {
  couponProperties,
  reservationOf,
  reservationProperties,
  storedCouponOf,
  storedReservationOf,
  storedUsageOf,
  usageProperties,
} from '../../ledger-row-codecs.ts';
import type { DurableSql, SqlParameter, SqlRow } from '../durable-sql.ts';

const placeholders = (count: number) => Array.from({ length: count }, () => '?').join(', ');

const couponSelect = `SELECT ${columnList(couponColumns, propertiesOf(couponColumns), 'c')},
    a.credits_posted - a.debits_posted - a.debits_pending AS available, a.debits_pending AS held
  FROM coupons c JOIN accounts a ON a.id = 'coupon:' || c.id`;

export const reservationSelect = `SELECT ${columnList(reservationColumns, reservationProperties)}
  FROM reservations`;

export const usageSelect = `SELECT ${columnList(usageRecordColumns, usageProperties)}
  FROM usage_records`;

function couponOf(row: SqlRow): FundedCoupon {
  const { endedAtMs: _ended, ...terms } = decodeRow(couponColumns, row);
  const available = BigInt(row.available as number);
  return {
    ...terms,
    remainingMicro: available,
    availableMicro: available,
    heldMicro: BigInt(row.held as number),
  };
}

/** Oldest first: created, then id. */
function byCreation(left: CouponState, right: CouponState): number {
  return (
    left.createdAtMs - right.createdAtMs || (left.id < right.id ? -1 : left.id > right.id ? 1 : 0)
  );
}

export type DurableLedgerRows = ReturnType<typeof durableLedgerRows>;

export function durableLedgerRows(sql: DurableSql) {
  const coupons = (where: string, ...parameters: SqlParameter[]) =>
    sql.all(`${couponSelect} WHERE ${where}`, ...parameters).map(couponOf);
  return {
    couponsOfTenant: (tenantId: string) => coupons('c.tenant_id = ?', tenantId).sort(byCreation),
    coupon: (couponId: string): FundedCoupon | undefined => coupons('c.id = ?', couponId)[0],
    couponByReference: (tenantId: string, reference: string): FundedCoupon | undefined =>
      coupons('c.tenant_id = ? AND c.reference = ?', tenantId, reference)[0],
    expiredActiveCoupons: (atMs: number) =>
      coupons(`c.status = 'active' AND c.expires_at_ms <= ? ORDER BY c.id`, atMs),
    insertCoupon(coupon: CouponTerms & { createdAtMs: number }) {
      sql.run(
        `INSERT INTO coupons (${columnList(couponColumns, couponProperties)})
         VALUES (${placeholders(couponProperties.length)})`,
        ...(rowValues(couponColumns, couponProperties, storedCouponOf(coupon)) as SqlParameter[]),
      );
    },
    endCoupon: (couponId: string, status: 'voided' | 'expired', atMs: number) =>
      sql.all(
        `UPDATE coupons SET status = ?, ended_at_ms = ? WHERE id = ? AND status = 'active'
         RETURNING id`,
        status,
        atMs,
        couponId,
      ).length === 1,

    reservation(requestId: string): ReservationRow | undefined {
      const row = sql.first(`${reservationSelect} WHERE request_id = ?`, requestId);
      return row && reservationOf(row);
    },
    /** Inserts a new reservation; false when the request id already has one. */
    insertReservation: (row: NewReservationRow) =>
      sql.all(
        `INSERT INTO reservations (${columnList(reservationColumns, reservationProperties)})
         VALUES (${placeholders(reservationProperties.length)})
         ON CONFLICT (request_id) DO NOTHING RETURNING request_id`,
        ...(rowValues(
          reservationColumns,
          reservationProperties,
          storedReservationOf(row),
        ) as SqlParameter[]),
      ).length === 1,
    endReservation: (requestId: string, status: 'settled' | 'released', atMs: number) =>
      sql.all(
        `UPDATE reservations SET status = ?, ended_at_ms = ?
         WHERE request_id = ? AND status = 'reserved' RETURNING request_id`,
        status,
        atMs,
        requestId,
      ).length === 1,
    insertUsage(row: UsageRow) {
      sql.run(
        `INSERT INTO usage_records (${columnList(usageRecordColumns, usageProperties)})
         VALUES (${placeholders(usageProperties.length)})`,
        ...(rowValues(usageRecordColumns, usageProperties, storedUsageOf(row)) as SqlParameter[]),
      );
    },
    usageCostAndPayment(requestId: string): { costMicro: bigint; paidBy: PaidBy[] } | undefined {
      const row = sql.first(
        'SELECT CAST(cost AS TEXT) AS cost, paid_by AS paidBy FROM usage_records WHERE request_id = ?',
        requestId,
      );
      return (
        row && {
          costMicro: BigInt(String(row.cost)),
          paidBy: fromStoredPaidBy(JSON.parse(String(row.paidBy))),
        }
      );
    },
  };
}
